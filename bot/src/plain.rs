//! 长辈版 wording (适老化): the same facts, said plainer. Short forms are written out in full
//! (the city's `[words] abbreviations` list, `short=full`), a sentence with several clauses is
//! broken into short lines, and a citation marker stays with the words it belongs to. Nothing
//! is added or dropped: every fact of the reply, and every `[n]`, is still there.

use knowledge::phrases::{Phrases, lists};

/// A clause longer than this many characters ends its line at the next comma.
const LONG_CLAUSE: usize = 24;

/// The reply for an elderly reader.
pub fn for_elders(phrases: &Phrases, text: &str) -> String {
    let written_out = write_out(phrases, text);
    written_out.split('\n').map(shorten_line).collect::<Vec<_>>().join("\n")
}

/// Writes the short forms out, leaving the full forms that contain them alone (公积金 inside
/// 住房公积金 stays one 住房公积金).
fn write_out(phrases: &Phrases, text: &str) -> String {
    let mut pairs: Vec<(&str, &str)> = phrases
        .words(lists::ABBREVIATIONS)
        .iter()
        .filter_map(|pair| pair.split_once('='))
        .map(|(short, full)| (short.trim(), full.trim()))
        .filter(|(short, full)| !short.is_empty() && !full.is_empty())
        .collect();
    // Longer short forms first: 社保卡 before 社保.
    pairs.sort_by_key(|(short, _)| std::cmp::Reverse(short.chars().count()));
    // Each replacement goes through a placeholder so that a later, shorter form does not
    // rewrite what an earlier one wrote.
    let mut out = text.to_string();
    let mut written: Vec<&str> = Vec::new();
    for (i, (short, full)) in pairs.iter().enumerate() {
        let mark = format!("\u{E000}{i}\u{E001}");
        let pieces: Vec<String> = out.split(full).map(|piece| piece.replace(short, &mark)).collect();
        out = pieces.join(&mark);
        written.push(full);
    }
    for (i, full) in written.iter().enumerate() {
        out = out.replace(&format!("\u{E000}{i}\u{E001}"), full);
    }
    out
}

/// Breaks a long line at its semicolons, and a long clause at its next comma.
fn shorten_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut clause = 0usize;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        clause += 1;
        let breaks = match c {
            '；' => true,
            '，' => clause > LONG_CLAUSE,
            _ => false,
        };
        // A citation marker right after stays on this line.
        if breaks && chars.peek() != Some(&'[') && chars.peek().is_some() {
            out.push('\n');
            clause = 0;
        }
        if c == '。' || c == '\n' {
            clause = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms_are_written_out_once_and_every_fact_stays() {
        let phrases = Phrases::builtin();
        let text = "带上身份证和社保卡，到公积金中心或住房公积金网办大厅办理；社保缴费满 6 个月。[1]";
        let plain = for_elders(phrases, text);
        assert!(plain.contains("居民身份证") && plain.contains("社会保障卡"), "{plain}");
        assert!(!plain.contains("住房住房"), "{plain}");
        assert_eq!(plain.matches("住房公积金").count(), 2, "{plain}");
        assert!(plain.contains("社会保险缴费"), "{plain}");
        assert!(plain.contains("[1]"));
        // Broken at the semicolon, nothing lost.
        assert!(plain.contains("；\n"), "{plain}");
        let squeeze = |t: &str| t.replace('\n', "");
        assert_eq!(squeeze(&plain).matches('，').count(), text.matches('，').count());
    }

    #[test]
    fn a_long_clause_ends_its_line_and_a_marker_stays_with_its_words() {
        let line =
            "办理时需要本人携带有效期内的居民身份证原件到任一出入境窗口现场办理，无需预约，当场受理；[2]结果邮寄";
        let plain = shorten_line(line);
        let lines: Vec<&str> = plain.lines().collect();
        assert!(lines.len() >= 2, "{plain}");
        assert!(lines[0].ends_with('，'), "{plain}");
        assert!(plain.contains("；[2]"), "{plain}");
        assert_eq!(plain.replace('\n', ""), line);
    }
}
