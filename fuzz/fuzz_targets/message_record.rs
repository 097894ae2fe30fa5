//! Any bytes as a segment: records parse or fail cleanly, and what parses re-encodes exactly.
#![no_main]

use grapevine::bytes::ByteReader;
use grapevine::message::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = ByteReader::new(data);
    let mut consumed = 0;
    while let Ok(message) = Message::read_record(&mut reader) {
        let _ = message.verify_signature();
        let mut again = Vec::new();
        message.write_record(&mut again);
        assert_eq!(&data[consumed..consumed + again.len()], again.as_slice());
        consumed += again.len();
    }
});
