//! Cutting SIP messages off a TCP/TLS byte stream (RFC 3261 §18.3): header section up to the
//! blank line, then exactly Content-Length bytes of body.
//!
//! Decision: on a stream Content-Length is mandatory and anything over 64 KiB, or a header
//! section that never ends within it, is a fatal framing error: the shell closes the
//! connection, since there is no way to find the next message's start.

use super::message::MAX_MESSAGE_SIZE;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("message over 64 KiB or unbounded header section")]
    TooLarge,
    #[error("missing or bad Content-Length on a stream")]
    BadContentLength,
}

/// Buffers stream bytes and yields whole messages.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
}

impl StreamFramer {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete message, `Ok(None)` when more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, FramingError> {
        // Keep-alive CRLFs between messages (RFC 5626 §3.5.1) are skipped.
        let lead = self.buf.iter().take_while(|b| **b == b'\r' || **b == b'\n').count();
        self.buf.drain(..lead);
        let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            return if self.buf.len() > MAX_MESSAGE_SIZE {
                Err(FramingError::TooLarge)
            } else {
                Ok(None)
            };
        };
        let head = String::from_utf8_lossy(&self.buf[..end]);
        let len = head
            .split("\r\n")
            .skip(1)
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                let n = n.trim();
                (n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("l"))
                    .then(|| v.trim().parse::<usize>())
            })
            .ok_or(FramingError::BadContentLength)?
            .map_err(|_| FramingError::BadContentLength)?;
        // Checked: a peer may claim any Content-Length, up to `usize::MAX`.
        let total = len
            .checked_add(end + 4)
            .filter(|t| *t <= MAX_MESSAGE_SIZE)
            .ok_or(FramingError::TooLarge)?;
        if self.buf.len() < total {
            return Ok(None);
        }
        Ok(Some(self.buf.drain(..total).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_and_joined_messages() {
        let m = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 3\r\n\r\nabc";
        let mut f = StreamFramer::default();
        f.push(b"\r\n\r\n");
        f.push(&m[..10]);
        assert_eq!(f.next_message(), Ok(None));
        f.push(&m[10..]);
        f.push(m);
        assert_eq!(f.next_message().unwrap().unwrap(), m.to_vec());
        assert_eq!(f.next_message().unwrap().unwrap(), m.to_vec());
        assert_eq!(f.next_message(), Ok(None));
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\n\r\n");
        assert_eq!(f.next_message(), Err(FramingError::BadContentLength));
    }

    /// Found by `scripts/fuzz-protocols`: a Content-Length of `usize::MAX` overflowed the sum
    /// of head and body lengths.
    #[test]
    fn a_content_length_near_usize_max_is_too_large_not_a_panic() {
        for len in [usize::MAX.to_string(), format!("{:020}", usize::MAX), "70000".into()] {
            let mut f = StreamFramer::default();
            f.push(format!("OPTIONS sip:a@b SIP/2.0\r\nl: {len}\r\n\r\nabc").as_bytes());
            assert_eq!(f.next_message(), Err(FramingError::TooLarge), "{len}");
        }
    }
}
