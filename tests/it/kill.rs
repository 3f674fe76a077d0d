//! Never lose saved work: a process that edits and saves a dataset over and over is killed with SIGKILL
//! at random moments; after every kill the dataset (and its `.bak`) must parse and hold every edit
//! whose save had completed, and the dataset lock must be free again.

use crate::common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use samlabel::annotate::coco;
use samlabel::annotate::dataset::{Annotation, Dataset, Edit};
use samlabel::annotate::lock::DatasetLock;
use samlabel::annotate::mask::Mask;

const KILLS: usize = 200;
const CHILD_ENV: &str = "SAMLABEL_KILL_TEST_DATASET";
const TEST_NAME: &str = "kill::sigkill_at_random_moments_never_corrupts_or_loses_a_saved_dataset";

/// The child: holds the lock, then adds one annotation and saves, forever, saying `saved N` after
/// each completed save.
fn edit_and_save_forever(path: &Path) -> ! {
    let _lock = match DatasetLock::acquire(path) {
        Ok(lock) => lock,
        Err(err) => {
            println!("lock failed: {err}");
            std::process::exit(1);
        }
    };
    let mut dataset = if path.exists() {
        coco::load(path).expect("the dataset loads").dataset
    } else {
        Dataset::new()
    };
    let image = dataset.ensure_image("a.png", 16, 12).unwrap();
    let category = dataset.ensure_category("thing").unwrap();
    let mut stdout = std::io::stdout();
    loop {
        let n = dataset.annotations().len() as u32;
        let mut mask = Mask::new(16, 12);
        mask.set(n % 16, (n / 16) % 12, true);
        let annotation =
            Annotation::from_mask(dataset.next_annotation_id(), image, category, &mask);
        dataset.apply(Edit::AddAnnotation(annotation)).unwrap();
        coco::save(&dataset, path).expect("save");
        writeln!(stdout, "saved {}", dataset.annotations().len()).unwrap();
        stdout.flush().unwrap();
    }
}

/// Small deterministic generator for the kill moments.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn sigkill_at_random_moments_never_corrupts_or_loses_a_saved_dataset() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        edit_and_save_forever(Path::new(&path));
    }
    let dir = common::temp_dir("kill");
    let dataset = dir.join("annotations.json");
    let bak = dir.join("annotations.json.bak");
    let mut rng = 0x5eed_1234_u64;
    let (mut saved, mut corrupt, mut lost, mut kills_mid_run) = (0usize, 0usize, 0usize, 0usize);
    for kill in 0..KILLS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &dataset)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the child starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        // Kill at a random moment: one run in eight during start-up, the others once the save loop runs
        // (after its first save), at a random point of a later save.
        let mut lines = Vec::new();
        if !next(&mut rng).is_multiple_of(8) {
            // (libtest prints its own lines first.)
            while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
                let saved = line.starts_with("saved ");
                lines.push(line);
                if saved {
                    break;
                }
            }
        }
        std::thread::sleep(Duration::from_micros(next(&mut rng) % 20_000));
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        reader.join().unwrap();
        // Every line that arrived was printed after its save had completed.
        let mut confirmed = None;
        for line in lines.into_iter().chain(rx.try_iter()) {
            assert!(!line.starts_with("lock failed"), "kill {kill}: {line}");
            if let Some(n) = line.strip_prefix("saved ") {
                confirmed = Some(n.parse::<usize>().unwrap());
            }
        }
        if confirmed.is_some() {
            kills_mid_run += 1;
        }
        let confirmed = confirmed.unwrap_or(saved);
        match coco::load(&dataset) {
            Ok(imported) => {
                let count = imported.dataset.annotations().len();
                // The save in flight at the kill may have completed unreported: count may be one more.
                if count < confirmed.max(saved) {
                    lost += 1;
                }
                saved = count;
            }
            Err(_) if !dataset.exists() && confirmed == 0 => {}
            Err(err) => {
                eprintln!("kill {kill}: {err}");
                corrupt += 1;
            }
        }
        if bak.exists() && coco::load(&bak).is_err() {
            eprintln!("kill {kill}: the .bak does not load");
            corrupt += 1;
        }
    }
    println!(
        "{KILLS} SIGKILLs ({kills_mid_run} after at least one save of that run), {saved} saved edits, \
         {corrupt} corrupt files, {lost} lost saved states"
    );
    assert_eq!((corrupt, lost), (0, 0));
    assert!(
        saved > KILLS,
        "the children saved too rarely to test anything: {saved}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
