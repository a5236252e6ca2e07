//! The dosim command line.

fn main() {}
