//! The dataset side of samlabel, independent of any GUI: masks and their measures.

pub mod mask;
