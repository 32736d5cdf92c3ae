//! Counting the parts of a multipart body while it streams in.
//!
//! async-graphql spools every file part to a temporary file and only then
//! looks at the map, and its `max_num_files` option only scales a byte
//! limit. Counting delimiters on the way in lets the handler cut a body with
//! too many parts off at the first one too many, before the server has
//! opened a file for each.

/// Counts multipart delimiters (`CRLF--boundary`) across chunk borders.
pub(super) struct PartCounter {
    delimiter: Vec<u8>,
    /// The last `delimiter.len() - 1` bytes seen, for delimiters split
    /// between two chunks. Starts as CRLF: the first delimiter may open the body.
    tail: Vec<u8>,
    delimiters: usize,
}

impl PartCounter {
    /// A counter for a `multipart/*` content type with a boundary; `None`
    /// for any other body.
    pub(super) fn for_content_type(content_type: &str) -> Option<PartCounter> {
        let mut params = content_type.split(';');
        let essence = params.next()?.trim();
        if !essence.to_ascii_lowercase().starts_with("multipart/") {
            return None;
        }
        let boundary = params.find_map(|p| {
            let (name, value) = p.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("boundary")
                .then(|| value.trim().trim_matches('"'))
        })?;
        if boundary.is_empty() {
            return None;
        }
        Some(PartCounter {
            delimiter: [b"\r\n--", boundary.as_bytes()].concat(),
            tail: b"\r\n".to_vec(),
            delimiters: 0,
        })
    }

    /// Feeds the next chunk; returns how many parts have begun so far (the
    /// closing delimiter counts as the start of one more).
    pub(super) fn feed(&mut self, chunk: &[u8]) -> usize {
        let keep = self.delimiter.len() - 1;
        // The tail and the head of the chunk are each too short to hold a
        // whole delimiter, so every match across the seam is a new one.
        let mut seam = std::mem::take(&mut self.tail);
        seam.extend_from_slice(&chunk[..chunk.len().min(keep)]);
        self.delimiters += count(&seam, &self.delimiter);
        if chunk.len() > keep {
            self.delimiters += count(chunk, &self.delimiter);
            self.tail = chunk[chunk.len() - keep..].to_vec();
        } else {
            // The whole chunk is in the seam already.
            seam.drain(..seam.len().saturating_sub(keep));
            self.tail = seam;
        }
        self.delimiters
    }
}

/// Occurrences of `needle` (which starts with CR, rare in uploads) found by
/// scanning for its first byte: this runs over every byte of every upload.
fn count(haystack: &[u8], needle: &[u8]) -> usize {
    let Some((&first, rest)) = needle.split_first() else {
        return 0;
    };
    let mut found = 0;
    let mut from = 0;
    while let Some(offset) = haystack[from..].iter().position(|&b| b == first) {
        let at = from + offset;
        if haystack[at + 1..].starts_with(rest) {
            found += 1;
        }
        from = at + 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] =
        b"--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--xy!\r\r\n-\r\n\
        --xyz\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n--xyz--\r\n";

    #[test]
    fn counts_delimiters_however_the_body_is_split() {
        for size in 1..=BODY.len() {
            let mut counter = PartCounter::for_content_type("multipart/form-data; boundary=xyz")
                .expect("multipart");
            let mut last = 0;
            for chunk in BODY.chunks(size) {
                last = counter.feed(chunk);
            }
            assert_eq!(last, 3, "chunks of {size}");
        }
    }

    #[test]
    fn only_multipart_bodies_with_a_boundary_are_counted() {
        assert!(PartCounter::for_content_type("application/json").is_none());
        assert!(PartCounter::for_content_type("multipart/form-data").is_none());
        assert!(PartCounter::for_content_type("multipart/form-data; boundary=").is_none());
        assert!(
            PartCounter::for_content_type("Multipart/Form-Data; charset=x; BOUNDARY=\"q r\"")
                .is_some()
        );
    }
}
