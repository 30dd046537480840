//! How answers look in a terminal: aligned tables, relative times ("in 5 min", "3 h ago"), and `--json`
//! documents. Pure functions of their input and "now", so they are tested here.

use serde::Serialize;

/// A table with a header row; columns are as wide as their widest cell, two spaces apart.
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&'static str]) -> Table {
        Table {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.header.len(), "one cell per column");
        self.rows.push(cells);
    }

    /// The table, or the line `empty` (e.g. "no messages") when it has no rows.
    pub fn or(&self, empty: &str) -> String {
        match self.rows.is_empty() {
            true => format!("{empty}\n"),
            false => self.render(),
        }
    }

    /// The table as text, one line per row; trailing spaces trimmed.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let header: Vec<String> = self.header.iter().map(|h| h.to_string()).collect();
        let mut out = String::new();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (cell, width) in row.iter().zip(&widths) {
                line.push_str(cell);
                line.push_str(&" ".repeat(width - cell.chars().count() + 2));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Prints `value` as its JSON document with `--json`, else the text `text` makes of it for people.
pub fn show<T: Serialize>(json: bool, value: &T, text: impl FnOnce(&T) -> String) {
    if json {
        print_json(value);
    } else {
        print!("{}", text(value));
    }
}

/// One JSON document on stdout, pretty-printed (scripts parse it whole, people read it).
pub fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        // Wire structs always serialise; say so rather than print half a document.
        Err(error) => eprintln!("postdate: cannot print the answer as JSON: {error}"),
    }
}

/// The wire spelling of a unit enum (a state: `DELIVERED`, `IN_PROGRESS`…), as its serde name.
pub fn wire_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => "?".to_string(),
    }
}

/// Unix milliseconds now, from the machine's clock (only used to phrase times relative to now).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// `at` (Unix ms) relative to `now`: "now", "in 5 min", "3 h ago", "2 d ago".
pub fn relative(at: i64, now: i64) -> String {
    let distance = at - now;
    let ms = distance.unsigned_abs();
    if ms < 1_000 {
        return "now".to_string();
    }
    // Rounded to the nearest unit: a delay of 5 min read a moment later is still "in 5 min".
    let amount = match (ms + 500) / 1_000 {
        s if s < 60 => format!("{s} s"),
        s if s < 3_570 => format!("{} min", (s + 30) / 60),
        s if s < 48 * 3_600 - 1_800 => format!("{} h", (s + 1_800) / 3_600),
        s => format!("{} d", (s + 43_200) / 86_400),
    };
    if distance > 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// An optional time, relative to now; "-" when absent.
pub fn relative_opt(at: Option<i64>, now: i64) -> String {
    at.map_or_else(|| "-".to_string(), |at| relative(at, now))
}

/// A time as UTC with the relative phrase after it, for detail views: "2026-01-01 00:00:00 UTC (3 h ago)".
pub fn absolute(at: i64, now: i64) -> String {
    let when = chrono::DateTime::from_timestamp_millis(at)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| at.to_string());
    format!("{when} ({})", relative(at, now))
}

/// `text` cut to `max` characters with an ellipsis, for free-text columns (errors, bodies); never for ids.
pub fn clip(text: &str, max: usize) -> String {
    let one_line = text.replace(['\n', '\r'], " ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut clipped: String = one_line.chars().take(max.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}

/// Key/value lines for a detail view, keys aligned; absent values are left out.
pub struct Details {
    lines: Vec<(&'static str, String)>,
}

impl Details {
    pub fn new() -> Details {
        Details { lines: Vec::new() }
    }

    pub fn line(&mut self, key: &'static str, value: impl Into<String>) -> &mut Details {
        self.lines.push((key, value.into()));
        self
    }

    pub fn opt(&mut self, key: &'static str, value: Option<impl Into<String>>) -> &mut Details {
        if let Some(value) = value {
            self.line(key, value);
        }
        self
    }

    pub fn render(&self) -> String {
        let width = self.lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        self.lines
            .iter()
            .map(|(key, value)| format!("{key:width$}  {value}\n"))
            .collect()
    }
}

/// `Name: value` lines of a header map, for detail views.
pub fn header_lines<'a>(header: impl IntoIterator<Item = (&'a String, &'a Vec<String>)>) -> String {
    header
        .into_iter()
        .flat_map(|(name, values)| values.iter().map(move |value| format!("{name}: {value}")))
        .collect::<Vec<_>>()
        .join("\n    ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600_000;

    #[test]
    fn times_are_phrased_relative_to_now_in_the_largest_whole_unit() {
        assert_eq!(relative(NOW, NOW), "now");
        assert_eq!(relative(NOW + 400, NOW), "now");
        assert_eq!(relative(NOW + 30_000, NOW), "in 30 s");
        assert_eq!(relative(NOW + 5 * 60_000 + 10_000, NOW), "in 5 min");
        assert_eq!(relative(NOW + 5 * 60_000 - 300, NOW), "in 5 min");
        assert_eq!(relative(NOW + 59 * 60_000 + 50_000, NOW), "in 1 h");
        assert_eq!(relative(NOW - 3 * 3_600_000, NOW), "3 h ago");
        assert_eq!(relative(NOW - 47 * 3_600_000, NOW), "47 h ago");
        assert_eq!(relative(NOW - 3 * 86_400_000, NOW), "3 d ago");
        assert_eq!(relative_opt(None, NOW), "-");
        assert_eq!(absolute(NOW, NOW + 60_000), "2026-01-01 00:00:00 UTC (1 min ago)");
    }

    #[test]
    fn tables_align_columns_to_the_widest_cell() {
        let mut table = Table::new(&["ID", "STATE"]);
        table.row(vec!["msg_1".into(), "CREATED".into()]);
        table.row(vec!["msg_long_id".into(), "-".into()]);
        assert_eq!(
            table.render(),
            "ID           STATE\nmsg_1        CREATED\nmsg_long_id  -\n"
        );
    }

    #[test]
    fn free_text_is_clipped_to_one_line() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("line one\nline two", 10), "line one …");
        assert_eq!(clip("ééééé", 5), "ééééé");
    }

    #[test]
    fn details_align_their_keys_and_skip_absent_values() {
        let mut details = Details::new();
        details
            .line("id", "msg_1")
            .opt("queue", None::<String>)
            .line("state", "CREATED");
        assert_eq!(details.render(), "id     msg_1\nstate  CREATED\n");
    }
}
