//! Any bytes as a bundle file: the reader reports problems and never panics or over-allocates.
#![no_main]

use std::io::Cursor;

use grapevine::bundle::{BundleSink, Manifest, read_bundle};
use grapevine::bytes::ByteReader;
use grapevine::message::Message;
use libfuzzer_sys::fuzz_target;

struct Sink;

impl BundleSink for Sink {
    type Error = std::io::Error;
    fn manifest(&mut self, _: &Manifest) -> std::io::Result<()> {
        Ok(())
    }
    fn segment(&mut self, _: &str, data: &[u8]) -> std::io::Result<()> {
        let mut reader = ByteReader::new(data);
        while Message::read_record(&mut reader).is_ok() {}
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = read_bundle(Cursor::new(data), &mut Sink);
});
