//! One page of the kernel's trace ring buffer, as `per_cpu/cpuN/trace_pipe_raw` gives it
//! (`events/header_page` and `events/header_event` describe it): a 64-bit timestamp, a commit
//! word (the data's length, with flags in its top bits), then events, each behind a 32-bit
//! header: `type_len` (5 bits) and a time delta (27 bits). `type_len` 1–28 is a record of
//! that many 4-byte words, 0 a record whose length is in the next word, 29 padding, 30 a time
//! extension, 31 an absolute timestamp (kernel/trace/ring_buffer.c).

/// A record and its time (the trace clock's nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawEvent<'a> {
    /// When.
    pub t_ns: i64,
    /// The record: the common fields (type, flags, preempt count, pid), then the event's.
    pub data: &'a [u8],
}

/// Why a page could not be read to its end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trace page damaged at byte {0}")]
pub struct PageError(pub usize);

const HEADER: usize = 16;
/// The commit word's length bits (the top ones flag missed events).
const COMMIT_MASK: u64 = (1 << 30) - 1;

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The page's records, in order, appended to `out`.
pub fn events<'a>(page: &'a [u8], out: &mut Vec<RawEvent<'a>>) -> Result<(), PageError> {
    let stamp = page.get(..8).ok_or(PageError(0))?;
    let mut ts = u64::from_le_bytes(stamp.try_into().expect("8 bytes"));
    let commit = page.get(8..16).ok_or(PageError(8))?;
    let len = (u64::from_le_bytes(commit.try_into().expect("8 bytes")) & COMMIT_MASK) as usize;
    let end = HEADER + len.min(page.len().saturating_sub(HEADER));
    let mut at = HEADER;
    while at + 4 <= end {
        let h = u32_at(page, at).ok_or(PageError(at))?;
        let (type_len, delta) = (h & 0x1f, u64::from(h >> 5));
        match type_len {
            29 => {
                if delta == 0 {
                    break; // the rest of the page is padding
                }
                let n = u32_at(page, at + 4).ok_or(PageError(at))? as usize;
                at += 4 + n;
            }
            30 => {
                let hi = u64::from(u32_at(page, at + 4).ok_or(PageError(at))?);
                ts = ts.wrapping_add((hi << 27) | delta);
                at += 8;
            }
            31 => {
                // An absolute stamp holds the low 59 bits; the page's stamp gives the rest.
                let hi = u64::from(u32_at(page, at + 4).ok_or(PageError(at))?);
                let abs = (hi << 27) | delta;
                ts = (ts & !((1 << 59) - 1)) | abs;
                at += 8;
            }
            0 => {
                let n = u32_at(page, at + 4).ok_or(PageError(at))? as usize;
                let data = page
                    .get(at + 8..at + 4 + n)
                    .filter(|_| n >= 4)
                    .ok_or(PageError(at))?;
                ts = ts.wrapping_add(delta);
                out.push(RawEvent {
                    t_ns: ts as i64,
                    data,
                });
                at += 4 + n;
            }
            words => {
                let n = words as usize * 4;
                let data = page.get(at + 4..at + 4 + n).ok_or(PageError(at))?;
                ts = ts.wrapping_add(delta);
                out.push(RawEvent {
                    t_ns: ts as i64,
                    data,
                });
                at += 4 + n;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(type_len: u32, delta: u32) -> [u8; 4] {
        ((delta << 5) | type_len).to_le_bytes()
    }

    #[test]
    fn reads_records_time_extensions_and_padding() {
        let mut page = Vec::new();
        page.extend_from_slice(&1_000u64.to_le_bytes());
        page.extend_from_slice(&0u64.to_le_bytes()); // the length, set below
                                                     // A small record (2 words) 5 ns after the page's stamp.
        page.extend_from_slice(&header(2, 5));
        page.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        // A time extension of (1 << 27) + 3 ns.
        page.extend_from_slice(&header(30, 3));
        page.extend_from_slice(&1u32.to_le_bytes());
        // A long record: its length in the next word (4 + 12 data bytes).
        page.extend_from_slice(&header(0, 2));
        page.extend_from_slice(&16u32.to_le_bytes());
        page.extend_from_slice(&[9; 12]);
        let len = (page.len() - HEADER) as u64 | 1 << 31; // missed events flagged
        page[8..16].copy_from_slice(&len.to_le_bytes());
        // What follows the committed length is not read.
        page.extend_from_slice(&header(1, 0));
        page.extend_from_slice(&[0xff; 4]);
        let mut out = Vec::new();
        events(&page, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].t_ns, 1_005);
        assert_eq!(out[0].data, &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(out[1].t_ns, 1_005 + (1 << 27) + 3 + 2);
        assert_eq!(out[1].data, &[9; 12]);
    }

    #[test]
    fn a_damaged_page_is_an_error_not_a_panic() {
        let mut page = Vec::new();
        page.extend_from_slice(&0u64.to_le_bytes());
        page.extend_from_slice(&12u64.to_le_bytes());
        page.extend_from_slice(&header(0, 0));
        page.extend_from_slice(&4000u32.to_le_bytes()); // longer than the page
        page.extend_from_slice(&[0; 4]);
        let mut out = Vec::new();
        assert_eq!(events(&page, &mut out), Err(PageError(16)));
        for cut in 0..page.len() {
            let _ = events(&page[..cut], &mut out);
        }
    }
}
