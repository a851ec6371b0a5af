//! Personal data kept out of the logs: every log line passes through [`mask`] before it is
//! written, whatever logged it (a field, an error text, a library). An 18-digit ID number keeps
//! its first six and last four characters (`330106********123X`), a 15-digit one its first six
//! and last three, a mobile number its first three and last four (`139****5678`); the numbers
//! of an address that lead to one door are starred (`文三路***号*幢***室`), the street kept.

use std::io::Write;

use tracing_subscriber::fmt::MakeWriter;

/// What follows the numbers of an address that point at one door (号, 弄, 幢, 栋, 单元, 室).
const HOUSE_NUMBER_UNITS: &[char] = &['号', '弄', '幢', '栋', '单', '室'];

/// Masks ID and mobile numbers, and the door numbers of addresses, in `text`: runs of ASCII digits (an ID number may end in X)
/// of the right length, not part of a longer run.
pub fn mask(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            let next = text[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&text[i..i + next]);
            i += next;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        // An ID number's check character may be X.
        if i - start == 17 && i < bytes.len() && (bytes[i] == b'X' || bytes[i] == b'x') {
            i += 1;
        }
        let run = &text[start..i];
        let longer = i < bytes.len() && bytes[i].is_ascii_alphanumeric();
        let after_letter = start > 0 && bytes[start - 1].is_ascii_alphabetic();
        let masked = match run.len() {
            _ if longer || after_letter => None,
            18 => Some(format!("{}********{}", &run[..6], &run[14..])),
            15 => Some(format!("{}******{}", &run[..6], &run[12..])),
            11 if run.starts_with('1') => Some(format!("{}****{}", &run[..3], &run[7..])),
            // A house, building, unit or room number of an address: 文三路***号*幢***室.
            _ if text[i..].starts_with(HOUSE_NUMBER_UNITS) => Some("*".repeat(run.len())),
            _ => None,
        };
        out.push_str(masked.as_deref().unwrap_or(run));
    }
    out
}

/// A writer maker whose writers mask each log line before it reaches `M`'s writer.
#[derive(Debug, Clone)]
pub struct Masked<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Masked<M> {
    type Writer = MaskedWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        MaskedWriter {
            inner: self.0.make_writer(),
            buffer: Vec::new(),
        }
    }
}

/// Collects one event's text and writes it masked when the event is done.
pub struct MaskedWriter<W: Write> {
    inner: W,
    buffer: Vec<u8>,
}

impl<W: Write> Write for MaskedWriter<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buffer.is_empty() {
            let text = mask(&String::from_utf8_lossy(&self.buffer));
            self.buffer.clear();
            self.inner.write_all(text.as_bytes())?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for MaskedWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn id_and_mobile_numbers_are_masked_and_other_numbers_kept() {
        assert_eq!(
            mask("证件号码330106199001011234，电话13912345678。"),
            "证件号码330106********1234，电话139****5678。"
        );
        assert_eq!(mask("id=33010619900101123X end"), "id=330106********123X end");
        assert_eq!(mask("old 330106900101123"), "old 330106******123");
        // Application numbers, credit codes, times and counts stay readable.
        for kept in [
            "RX20261130000042",
            "91330100MA2K3Q8X7F",
            "elapsed_ms=13912",
            "2026-12-01 16:30",
            "12345",
        ] {
            assert_eq!(mask(kept), kept);
        }
        // A longer digit run is not a phone number.
        assert_eq!(mask("1391234567890"), "1391234567890");
        // An address keeps its street and loses its door.
        assert_eq!(
            mask("地址：西湖区文三路128号3幢2单元501室门口"),
            "地址：西湖区文三路***号*幢*单元***室门口"
        );
        assert_eq!(mask("幸福里15弄7号"), "幸福里**弄*号");
    }
}
