//! SAM 3's text tokenizer: CLIP's byte-level BPE exactly as the official `sam3` package runs it
//! (`sam3/model/tokenizer_ve.py`, `SimpleTokenizer` with the `lower` clean-up and a context of 32).
//!
//! A phrase becomes ids in four steps, each the official one:
//! 1. clean-up: ftfy's `fix_text` (the fixes that apply to typed text, see [`fix_text`]), HTML
//!    entities unescaped twice, whitespace runs collapsed to one space, trimmed, lower-cased;
//! 2. CLIP's split: the two special tokens, English contractions, runs of letters, single digits,
//!    runs of other non-space characters;
//! 3. each piece as UTF-8 bytes mapped to printable characters (`bytes_to_unicode`), `</w>` on its
//!    last one, merged by the BPE ranks of `bpe_simple_vocab_16e6.txt.gz`;
//! 4. `<start_of_text>` (49406) + ids + `<end_of_text>` (49407), cut to the context keeping the end
//!    token last, padded with 0.
//!
//! `tokenizers` (the Hugging Face crate) is not used: its CLIP pipeline normalizes with NFC and a
//! different split, and does not do ftfy's clean-up, so its ids differ on exactly the phrases where
//! users notice (numbers, quotes, ligatures, full-width letters).

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use regex::Regex;
use unicode_normalization::UnicodeNormalization;

/// The file name of CLIP's vocabulary in a SAM 3 model folder.
pub const VOCAB_FILE: &str = "bpe_simple_vocab_16e6.txt.gz";
/// SAM 3's text context (`VETextEncoder(context_length=32)`).
pub const CONTEXT: usize = 32;
/// Merges used from the vocabulary file (`49152 - 256 - 2`), after its header line.
const MERGES: usize = 49152 - 256 - 2;
const START: &str = "<start_of_text>";
const END: &str = "<end_of_text>";

/// Why a vocabulary could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("cannot read the text vocabulary {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the text vocabulary {path} has {found} merge rules; CLIP's has {MERGES} \
         (is it bpe_simple_vocab_16e6.txt.gz?)"
    )]
    Truncated {
        path: std::path::PathBuf,
        found: usize,
    },
}

/// CLIP's BPE tokenizer as SAM 3 uses it.
pub struct Tokenizer {
    encoder: HashMap<String, i64>,
    ranks: HashMap<(String, String), usize>,
    byte_chars: [char; 256],
    split: Regex,
    start: i64,
    end: i64,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocabulary", &self.encoder.len())
            .finish()
    }
}

impl Tokenizer {
    /// Reads `bpe_simple_vocab_16e6.txt.gz` (gzip-compressed merge list, one pair per line).
    pub fn from_file(path: &Path) -> Result<Self, TokenizerError> {
        let read = |source| TokenizerError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read)?;
        let mut text = String::new();
        flate2::read::GzDecoder::new(file)
            .read_to_string(&mut text)
            .map_err(read)?;
        let merges: Vec<(String, String)> = text
            .split('\n')
            .skip(1)
            .take(MERGES)
            .filter_map(|line| {
                let mut parts = line.split_whitespace();
                Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
            })
            .collect();
        if merges.len() != MERGES {
            return Err(TokenizerError::Truncated {
                path: path.to_path_buf(),
                found: merges.len(),
            });
        }
        Ok(Self::from_merges(merges))
    }

    fn from_merges(merges: Vec<(String, String)>) -> Self {
        let byte_chars = bytes_to_unicode();
        // The official vocabulary lists the byte characters in `bytes_to_unicode`'s insertion
        // order: the printable bytes first, then the others.
        let mut ordered: Vec<char> = byte_chars.to_vec();
        ordered.sort_by_key(|&c| (u32::from(c) >= 256, u32::from(c)));
        let mut vocab: Vec<String> = ordered.iter().map(char::to_string).collect();
        vocab.extend(ordered.iter().map(|c| format!("{c}</w>")));
        vocab.extend(merges.iter().map(|(a, b)| format!("{a}{b}")));
        vocab.push(START.to_owned());
        vocab.push(END.to_owned());
        let encoder: HashMap<String, i64> = vocab.into_iter().zip(0..).collect();
        let ranks = merges.into_iter().zip(0..).collect();
        let split = Regex::new(&format!(
            r"(?i){START}|{END}|'s|'t|'re|'ve|'m|'ll|'d|\p{{L}}+|\p{{N}}|[^\s\p{{L}}\p{{N}}]+"
        ))
        .expect("the pattern is valid");
        Self {
            start: encoder[START],
            end: encoder[END],
            encoder,
            ranks,
            byte_chars,
            split,
        }
    }

    /// The ids of `text` without start / end tokens (`SimpleTokenizer.encode`).
    pub fn encode(&self, text: &str) -> Vec<i64> {
        let text = clean_lower(text);
        let mut ids = Vec::new();
        for piece in self.split.find_iter(&text) {
            let piece = piece.as_str();
            if piece == START || piece == END {
                ids.push(self.encoder[piece]);
                continue;
            }
            let symbols: Vec<String> = piece
                .bytes()
                .map(|b| self.byte_chars[usize::from(b)].to_string())
                .collect();
            for token in self.bpe(symbols) {
                // Every merge result and every byte (with or without `</w>`) is in the vocabulary.
                ids.push(self.encoder.get(&token).copied().unwrap_or(0));
            }
        }
        ids
    }

    /// The model's `tokens` input for `text`: `[start, ids.., end]` cut to `context` keeping the end
    /// token last, zero-padded (`SimpleTokenizer.__call__`).
    pub fn tokens(&self, text: &str, context: usize) -> Vec<i64> {
        let mut tokens = Vec::with_capacity(context);
        tokens.push(self.start);
        tokens.extend(self.encode(text));
        tokens.push(self.end);
        if tokens.len() > context {
            tokens.truncate(context);
            if let Some(last) = tokens.last_mut() {
                *last = self.end;
            }
        }
        tokens.resize(context, 0);
        tokens
    }

    /// CLIP's BPE on one piece: `</w>` on the last symbol, then the lowest-ranked adjacent pair
    /// merged everywhere, until no pair has a rank.
    fn bpe(&self, mut word: Vec<String>) -> Vec<String> {
        if let Some(last) = word.last_mut() {
            last.push_str("</w>");
        }
        while word.len() > 1 {
            let best = word
                .windows(2)
                .filter_map(|pair| {
                    self.ranks
                        .get(&(pair[0].clone(), pair[1].clone()))
                        .map(|&rank| (rank, pair))
                })
                .min_by_key(|(rank, _)| *rank);
            let Some((_, pair)) = best else { break };
            let (first, second) = (pair[0].clone(), pair[1].clone());
            let mut merged = Vec::with_capacity(word.len());
            let mut i = 0;
            while i < word.len() {
                if i + 1 < word.len() && word[i] == first && word[i + 1] == second {
                    merged.push(format!("{first}{second}"));
                    i += 2;
                } else {
                    merged.push(std::mem::take(&mut word[i]));
                    i += 1;
                }
            }
            word = merged;
        }
        word
    }
}

/// GPT-2 / CLIP's `bytes_to_unicode`: printable Latin-1 bytes map to themselves, the other 68 bytes
/// to U+0100 on, in byte order.
fn bytes_to_unicode() -> [char; 256] {
    let printable = |b: u32| {
        (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b)
    };
    let mut chars = ['\0'; 256];
    let mut next = 256;
    for (b, c) in (0u32..).zip(chars.iter_mut()) {
        *c = if printable(b) {
            char::from_u32(b)
        } else {
            next += 1;
            char::from_u32(next - 1)
        }
        .expect("all below U+0200");
    }
    chars
}

/// The official `_clean_lower`: `whitespace_clean(basic_clean(text)).lower()`.
pub fn clean_lower(text: &str) -> String {
    let text = fix_text(text);
    let text = htmlize::unescape(htmlize::unescape(&text).as_ref()).into_owned();
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.to_lowercase()
}

/// ftfy 6's `fix_text` with its default settings, for typed phrases: HTML entities that end in `;`
/// (only when the text has no `<`), UTF-8 that was read as Latin-1 or Windows-1252 (`cafÃ©`),
/// C1 controls read as Windows-1252, Latin ligatures split, full-width and half-width forms made
/// normal width, curly quotes straightened, line breaks unified, terminal escapes and control
/// characters removed, NFC; repeated until nothing changes.
///
/// ftfy's mojibake repair (`fix_encoding`) is reproduced for its main case only: the whole text is
/// UTF-8 that a single-byte codec decoded (ftfy also tries Cyrillic, Central European, Mac and DOS
/// code pages, and repairs mojibake inside otherwise sound text, guided by statistics of its own).
fn fix_text(text: &str) -> String {
    let unescape = !text.contains('<');
    let mut text = text.to_owned();
    for _ in 0..16 {
        let before = text.clone();
        if unescape {
            text = unescape_entities(&text);
        }
        if let Some(fixed) = utf8_read_as_single_byte(&text) {
            text = fixed;
        }
        text = text.chars().map(c1_as_windows_1252).collect();
        text = text.chars().flat_map(split_ligature).collect();
        text = text.chars().flat_map(normal_width).collect();
        text = text.chars().map(straight_quote).collect();
        text = text
            .replace("\r\n", "\n")
            .replace(['\r', '\u{2028}', '\u{2029}', '\u{85}'], "\n");
        text = terminal_escapes().replace_all(&text, "").into_owned();
        text.retain(|c| !is_control(c));
        text = text.nfc().collect();
        if text == before {
            break;
        }
    }
    text.trim().to_owned()
}

/// ftfy's `unescape_html`: `&name;` and `&#...;` only (never a bare `&amp`), plus the upper-cased
/// form of an all-lower-case entity name (`&EACUTE;` is `É`).
fn unescape_entities(text: &str) -> String {
    static ENTITY: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    let entity = ENTITY.get_or_init(|| Regex::new(r"&#?[0-9A-Za-z]{1,24};").expect("valid"));
    entity
        .replace_all(text, |m: &regex::Captures| {
            let whole = &m[0];
            let decoded = htmlize::unescape(whole);
            // A decode that left the `;` matched only a prefix (`&ampx;`): not an entity.
            if decoded != whole && (!decoded.contains(';') || whole == "&semi;") {
                return decoded.into_owned();
            }
            let lower = whole.to_lowercase();
            if !whole.starts_with("&#") && whole == whole.to_uppercase() && lower != whole {
                let decoded = htmlize::unescape(&lower);
                if decoded != lower && !decoded.contains(';') {
                    return decoded.to_uppercase();
                }
            }
            whole.to_owned()
        })
        .into_owned()
}

fn terminal_escapes() -> &'static Regex {
    static ANSI: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    ANSI.get_or_init(|| Regex::new("\x1b\\[(?:\\d|;)*[a-zA-Z]").expect("valid"))
}

/// `text` with its mojibake decoded again: each sequence of characters that are one byte in Latin-1
/// or (ftfy's "sloppy") Windows-1252 and whose bytes form one UTF-8 character, led the way UTF-8
/// read as those code pages is (`Ã©`, `â€œ`, `Ð¿`, `æ—¥`, `ðŸ±`). `None` when there is none.
/// (Text such as `Ü®` is valid UTF-8 too, but ftfy leaves it, as here.)
fn utf8_read_as_single_byte(text: &str) -> Option<String> {
    if text.is_ascii() {
        return None;
    }
    let byte_of = |c: char| -> Option<u8> {
        match u32::from(c) {
            code @ (0..=0xff) => Some(code as u8),
            _ => (0x80u8..=0x9f).find(|&b| c1_as_windows_1252(char::from(b)) == c),
        }
    };
    // Lead bytes of the UTF-8 that mojibake usually comes from: Latin-1 and Latin Extended-A
    // letters, Greek, Cyrillic, general punctuation, CJK, full-width forms and emoji.
    let length = |lead: u8| match lead {
        0xc2..=0xc5 | 0xce..=0xd1 => 2,
        0xe2..=0xe9 | 0xef => 3,
        0xf0 => 4,
        _ => 0,
    };
    let chars: Vec<char> = text.chars().collect();
    let bytes: Vec<Option<u8>> = chars.iter().map(|&c| byte_of(c)).collect();
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut i = 0;
    while i < chars.len() {
        let n = bytes[i].map_or(0, length);
        let sequence: Option<Vec<u8>> = (n > 0 && i + n <= chars.len())
            .then(|| bytes[i..i + n].iter().copied().collect())
            .flatten();
        if let Some(decoded) = sequence.and_then(|b| String::from_utf8(b).ok()) {
            out.push_str(&decoded);
            changed = true;
            i += n;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    changed.then_some(out)
}

/// C1 control characters as the Windows-1252 characters they most likely were (`fix_c1_controls`,
/// "sloppy": the five undefined bytes stay as they are).
fn c1_as_windows_1252(c: char) -> char {
    const TABLE: [u32; 32] = [
        0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039,
        0x152, 0x8d, 0x17d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
        0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
    ];
    match u32::from(c) {
        code @ 0x80..=0x9f => char::from_u32(TABLE[(code - 0x80) as usize]).unwrap_or(c),
        _ => c,
    }
}

/// ftfy's `LIGATURES`: Latin typographic ligatures and legacy digraphs, spelled out.
fn split_ligature(
    c: char,
) -> std::iter::Chain<std::str::Chars<'static>, std::option::IntoIter<char>> {
    let spelled: Option<&'static str> = match c {
        'Ĳ' => Some("IJ"),
        'ĳ' => Some("ij"),
        'ŉ' => Some("ʼn"),
        'Ǳ' => Some("DZ"),
        'ǲ' => Some("Dz"),
        'ǳ' => Some("dz"),
        'Ǆ' => Some("DŽ"),
        'ǅ' => Some("Dž"),
        'ǆ' => Some("dž"),
        'Ǉ' => Some("LJ"),
        'ǈ' => Some("Lj"),
        'ǉ' => Some("lj"),
        'Ǌ' => Some("NJ"),
        'ǋ' => Some("Nj"),
        'ǌ' => Some("nj"),
        'ﬀ' => Some("ff"),
        'ﬁ' => Some("fi"),
        'ﬂ' => Some("fl"),
        'ﬃ' => Some("ffi"),
        'ﬄ' => Some("ffl"),
        'ﬅ' => Some("ſt"),
        'ﬆ' => Some("st"),
        _ => None,
    };
    match spelled {
        Some(s) => s.chars().chain(None),
        None => "".chars().chain(Some(c)),
    }
}

/// ftfy's `WIDTH_MAP`: the ideographic space as a space, and every character of the half-width and
/// full-width forms block (U+FF01..U+FFEF) as its NFKC form.
fn normal_width(c: char) -> Vec<char> {
    match u32::from(c) {
        0x3000 => vec![' '],
        0xff01..=0xffef => c.to_string().nfkc().collect(),
        _ => vec![c],
    }
}

/// ftfy's `uncurl_quotes`.
fn straight_quote(c: char) -> char {
    match c {
        '\u{2bc}' | '\u{2018}'..='\u{201b}' => '\'',
        '\u{201c}'..='\u{201f}' => '"',
        _ => c,
    }
}

/// ftfy's `remove_control_chars`: ASCII controls other than tab, line feed, form feed and carriage
/// return, the deprecated Arabic format controls, the interlinear annotation characters, the object
/// replacement character and the byte order mark.
fn is_control(c: char) -> bool {
    matches!(u32::from(c),
        0x00..=0x08 | 0x0b | 0x0e..=0x1f | 0x7f | 0x206a..=0x206f | 0xfeff | 0xfff9..=0xfffc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_up_is_ftfys() {
        assert_eq!(
            clean_lower("  Broken text&hellip; it&#x2019;s ﬂubberiﬁc! "),
            "broken text… it's flubberific!"
        );
        assert_eq!(clean_lower("ＬＯＵＤ　ＮＯＩＳＥＳ"), "loud noises");
        assert_eq!(clean_lower("“red”\t‘car’\n\n"), "\"red\" 'car'");
        assert_eq!(clean_lower("&amp;amp;lt;b&gt;"), "<b>");
        assert_eq!(clean_lower("P&EACUTE;REZ"), "pérez");
        assert_eq!(clean_lower("\x1b[36mblue\x1b[0m"), "blue");
        assert_eq!(
            clean_lower("cafÃ© SchÃ¶n â€œquotedâ€\u{9d}"),
            "café schön \"quoted\""
        );
        assert_eq!(clean_lower("Ã©lan 猫"), "élan 猫");
        assert_eq!(clean_lower("naïve Ü®"), "naïve ü®");
    }

    #[test]
    fn bytes_map_like_clip() {
        let chars = bytes_to_unicode();
        assert_eq!(chars[b'a' as usize], 'a');
        assert_eq!(chars[0], '\u{100}');
        assert_eq!(chars[b' ' as usize], 'Ġ');
        assert_eq!(chars[0xad], '\u{143}');
    }
}
