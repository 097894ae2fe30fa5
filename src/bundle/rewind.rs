//! A stream read forward that can step back a bounded way: what the bundle reader needs to
//! read a sealed bundle as it is opened, with no temporary file. The reader only goes back
//! to just after the start of a frame it gave up on, and a frame is at most
//! [`super::MAX_ENTRY`] bytes and a little framing, so a window of twice that is enough for
//! any frame a writer makes; a crafted one that would need more is an error, not a panic.

use std::io::{self, Read, Seek, SeekFrom};

/// How far back a [`Rewind`] can go.
pub const WINDOW: usize = 2 * super::MAX_ENTRY + (1 << 20);

/// `Read + Seek` over a forward-only stream, keeping the last [`WINDOW`] bytes read.
pub struct Rewind<R> {
    inner: R,
    /// The bytes that end at `end`, oldest first.
    kept: Vec<u8>,
    /// How many bytes came from `inner`.
    end: u64,
    /// Where the next read starts.
    at: u64,
}

impl<R: Read> Rewind<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            kept: Vec::new(),
            end: 0,
            at: 0,
        }
    }

    /// The stream position of `kept[0]`.
    fn kept_from(&self) -> u64 {
        self.end - self.kept.len() as u64
    }
}

impl<R: Read> Read for Rewind<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at < self.end {
            let from = (self.at - self.kept_from()) as usize;
            let n = buf.len().min(self.kept.len() - from);
            buf[..n].copy_from_slice(&self.kept[from..from + n]);
            self.at += n as u64;
            return Ok(n);
        }
        let n = self.inner.read(buf)?;
        self.kept.extend_from_slice(&buf[..n]);
        self.end += n as u64;
        self.at = self.end;
        // Forget all but the window, now and then rather than on every read.
        if self.kept.len() > WINDOW + (WINDOW / 4) {
            self.kept.drain(..self.kept.len() - WINDOW);
        }
        Ok(n)
    }
}

impl<R: Read> Seek for Rewind<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.at.checked_add_signed(d),
            SeekFrom::End(_) => None,
        }
        .ok_or_else(|| {
            io::Error::other("a stream has no end to seek from, nor a place before 0")
        })?;
        if target < self.kept_from() {
            return Err(io::Error::other(format!(
                "a frame of this sealed bundle would need reading again from byte {target}, \
                 more than {WINDOW} bytes back: it is not a bundle grapevine writes"
            )));
        }
        if target <= self.end {
            self.at = target;
            return Ok(target);
        }
        // Forward by reading; a stream that ends first stops there.
        let wanted = target - self.at;
        io::copy(&mut self.by_ref().take(wanted), &mut io::sink())?;
        Ok(self.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundle reader goes back at most to just after the start of a frame it gave up on:
    /// a frame of the largest entry, its tar header and padding, and what the reader's 64 KiB
    /// buffer read ahead must all fit in the window.
    #[test]
    fn the_window_holds_the_largest_frame_and_a_buffer() {
        let largest = crate::bundle::MAX_ENTRY + 1024;
        assert!(WINDOW > largest + (1 << 16), "{WINDOW} bytes");
    }

    /// Reads, steps back within the window and reads the same bytes again; seeks forward by
    /// reading; refuses to go back beyond the window, or from an end it cannot know.
    #[test]
    fn it_goes_back_within_its_window_only() {
        let data: Vec<u8> = (0..(WINDOW * 2)).map(|i| (i % 251) as u8).collect();
        let mut r = Rewind::new(&data[..]);
        let mut buf = vec![0u8; 1000];
        r.read_exact(&mut buf).expect("reads");
        assert_eq!(buf, data[..1000]);
        for start in [0, 1, 999] {
            assert_eq!(r.seek(SeekFrom::Start(start)).expect("back"), start);
            let mut again = vec![0u8; 1000 - start as usize];
            r.read_exact(&mut again).expect("reads again");
            assert_eq!(again, data[start as usize..1000]);
        }
        assert_eq!(r.seek(SeekFrom::Start(10)).expect("back"), 10);
        r.read_exact(&mut buf).expect("reads again");
        assert_eq!(buf, data[10..1010]);
        assert_eq!(r.stream_position().expect("position"), 1010);
        assert_eq!(r.seek(SeekFrom::Current(-4)).expect("back 4"), 1006);
        r.read_exact(&mut buf[..4]).expect("reads");
        assert_eq!(buf[..4], data[1006..1010]);
        let far = (WINDOW + WINDOW / 2) as u64;
        assert_eq!(r.seek(SeekFrom::Start(far)).expect("forward"), far);
        r.read_exact(&mut buf).expect("reads on");
        assert_eq!(buf, data[far as usize..far as usize + 1000]);
        assert!(
            r.kept.len() <= WINDOW + WINDOW / 4,
            "it keeps about a window, not the stream: {} bytes",
            r.kept.len()
        );
        assert!(r.seek(SeekFrom::Start(0)).is_err(), "beyond the window");
        assert!(r.seek(SeekFrom::End(0)).is_err());
        assert!(r.seek(SeekFrom::Current(-(far as i64) * 2)).is_err());
        let back = far + 1000 - WINDOW as u64 + 1;
        assert_eq!(r.seek(SeekFrom::Start(back)).expect("in the window"), back);
        r.read_exact(&mut buf).expect("reads");
        assert_eq!(buf, data[back as usize..back as usize + 1000]);
        let mut rest = Vec::new();
        r.seek(SeekFrom::Start(data.len() as u64 + 5))
            .expect("past the end stops there");
        r.read_to_end(&mut rest).expect("the end");
        assert!(rest.is_empty());
    }
}
