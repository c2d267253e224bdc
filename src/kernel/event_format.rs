//! A trace event's binary layout, from its tracefs `format` file (`name:`, `ID:`, then one
//! `field:TYPE NAME; offset:N; size:M; signed:S;` line per field), and a record decoded with it.

/// One field of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Its name (an array's without the brackets).
    pub name: String,
    offset: usize,
    size: usize,
    signed: bool,
}

/// An event's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFormat {
    /// `sys_enter_connect`, …
    pub name: String,
    /// The number its records start with (`common_type`).
    pub id: u16,
    fields: Vec<Field>,
}

/// `common_flags` bits: the record was made in hard or soft interrupt context (or NMI).
const IN_IRQ: u8 = 0x08 | 0x10 | 0x40;

impl EventFormat {
    /// Parse a `format` file.
    pub fn parse(text: &str) -> Option<EventFormat> {
        let mut name = None;
        let mut id = None;
        let mut fields = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if let Some(n) = line.strip_prefix("name: ") {
                name = Some(n.trim().to_string());
            } else if let Some(n) = line.strip_prefix("ID: ") {
                id = n.trim().parse().ok();
            } else if let Some(rest) = line.strip_prefix("field:") {
                let mut parts = rest.split(';').map(str::trim);
                let decl = parts.next()?;
                let num = |p: Option<&str>, key: &str| -> Option<usize> {
                    p?.strip_prefix(key)?.parse().ok()
                };
                let offset = num(parts.next(), "offset:")?;
                let size = num(parts.next(), "size:")?;
                let signed = num(parts.next(), "signed:")? == 1;
                let last = decl.split_whitespace().last()?;
                let fname = last.split('[').next()?.trim_start_matches('*');
                if fname.starts_with("common_") {
                    continue;
                }
                if size == 16 {
                    // An IPv6 address: two 8-byte halves, `NAME.0` and `NAME.1` (memory order).
                    for half in 0..2 {
                        fields.push(Field {
                            name: format!("{fname}.{half}"),
                            offset: offset + 8 * half,
                            size: 8,
                            signed: false,
                        });
                    }
                    continue;
                }
                fields.push(Field {
                    name: fname.to_string(),
                    offset,
                    size,
                    signed,
                });
            }
        }
        Some(EventFormat {
            name: name?,
            id: id?,
            fields,
        })
    }

    /// The numbers of a record of this event: each field of 1, 2, 4 or 8 bytes as (raw,
    /// signed-as-declared), as the `fields` text shape prints them; larger arrays left out.
    pub fn values<'f>(&'f self, data: &[u8], out: &mut Vec<(&'f str, u64, i64)>) {
        out.clear();
        for f in &self.fields {
            let Some(b) = data.get(f.offset..f.offset + f.size) else {
                continue;
            };
            let (raw, dec) = match f.size {
                1 => (
                    u64::from(b[0]),
                    if f.signed {
                        i64::from(b[0] as i8)
                    } else {
                        i64::from(b[0])
                    },
                ),
                2 => {
                    let v = u16::from_le_bytes([b[0], b[1]]);
                    (
                        u64::from(v),
                        if f.signed {
                            i64::from(v as i16)
                        } else {
                            i64::from(v)
                        },
                    )
                }
                4 => {
                    let v = u32::from_le_bytes(b.try_into().expect("4 bytes"));
                    (
                        u64::from(v),
                        if f.signed {
                            i64::from(v as i32)
                        } else {
                            i64::from(v)
                        },
                    )
                }
                8 => {
                    let v = u64::from_le_bytes(b.try_into().expect("8 bytes"));
                    (v, v as i64)
                }
                _ => continue,
            };
            out.push((f.name.as_str(), raw, dec));
        }
    }
}

/// The common fields of a record: its event number, flags and task id.
pub fn common(data: &[u8]) -> Option<(u16, bool, u32)> {
    let id = u16::from_le_bytes(data.get(0..2)?.try_into().ok()?);
    let flags = *data.get(2)?;
    let pid = i32::from_le_bytes(data.get(4..8)?.try_into().ok()?);
    Some((id, flags & IN_IRQ != 0, pid as u32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::trace_line::Record;

    const SEND: &str = "name: sock_send_length
ID: 1234
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:void * sk;\toffset:8;\tsize:8;\tsigned:0;
\tfield:__u16 family;\toffset:16;\tsize:2;\tsigned:0;
\tfield:__u16 protocol;\toffset:18;\tsize:2;\tsigned:0;
\tfield:int ret;\toffset:20;\tsize:4;\tsigned:1;
\tfield:__u8 saddr_v6[16];\toffset:24;\tsize:16;\tsigned:0;

print fmt: \"...\"
";

    #[test]
    fn decodes_a_record_as_the_text_shape_does() {
        let f = EventFormat::parse(SEND).unwrap();
        assert_eq!((f.name.as_str(), f.id), ("sock_send_length", 1234));
        let mut data = vec![0u8; 40];
        data[0..2].copy_from_slice(&1234u16.to_le_bytes());
        data[2] = 0x10; // softirq
        data[4..8].copy_from_slice(&77i32.to_le_bytes());
        data[8..16].copy_from_slice(&0xffff_8881_d9c9_0940u64.to_le_bytes());
        data[16..18].copy_from_slice(&2u16.to_le_bytes());
        data[18..20].copy_from_slice(&6u16.to_le_bytes());
        data[20..24].copy_from_slice(&(-104i32).to_le_bytes());
        data[39] = 1; // ::1
        assert_eq!(common(&data), Some((1234, true, 77)));
        let mut v = Vec::new();
        f.values(&data, &mut v);
        let r = Record::new(5, "app", 77, Some(70), true, &f.name, &v);
        assert_eq!(r.hex("sk"), Some(0xffff_8881_d9c9_0940));
        assert_eq!(r.int("protocol"), Some(6));
        assert_eq!(r.int("ret"), Some(-104));
        assert_eq!(r.hex("saddr_v6"), None);
        assert_eq!(r.ipv6("saddr_v6"), Some(std::net::Ipv6Addr::LOCALHOST));
        assert_eq!(EventFormat::parse("nonsense"), None);
    }
}
