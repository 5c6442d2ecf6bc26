//! The export's two formats, written row by row as pages come: CSV per RFC
//! 4180 (a header row, CRLF line ends, a field quoted when it holds a comma,
//! a quote, CR or LF, its quotes doubled) and JSON (one array of objects,
//! keys in column order, one object per line).

use super::rows::Cell;
use std::io::{self, Write};
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            _ => Err(format!("{s:?}: expected csv or json")),
        }
    }
}

/// Writes rows of one kind in one format.
pub struct RowWriter<W: Write> {
    out: W,
    format: Format,
    columns: &'static [&'static str],
    rows: u64,
}

/// One CSV field, quoted when RFC 4180 needs it.
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn csv_cell(cell: &Cell) -> String {
    match cell {
        Cell::Text(t) => csv_field(t),
        Cell::Int(n) => n.to_string(),
        Cell::Bool(b) => b.to_string(),
        Cell::Empty => String::new(),
    }
}

fn json_cell(cell: &Cell) -> String {
    match cell {
        Cell::Text(t) => serde_json::Value::String(t.clone()).to_string(),
        Cell::Int(n) => n.to_string(),
        Cell::Bool(b) => b.to_string(),
        Cell::Empty => "null".into(),
    }
}

impl<W: Write> RowWriter<W> {
    /// Start the output: the CSV header, or the JSON array's opening.
    pub fn begin(mut out: W, format: Format, columns: &'static [&'static str]) -> io::Result<Self> {
        match format {
            Format::Csv => {
                let header: Vec<String> = columns.iter().map(|c| csv_field(c)).collect();
                write!(out, "{}\r\n", header.join(","))?;
            }
            Format::Json => out.write_all(b"[")?,
        }
        Ok(RowWriter {
            out,
            format,
            columns,
            rows: 0,
        })
    }

    pub fn row(&mut self, cells: &[Cell]) -> io::Result<()> {
        debug_assert_eq!(cells.len(), self.columns.len());
        match self.format {
            Format::Csv => {
                let fields: Vec<String> = cells.iter().map(csv_cell).collect();
                write!(self.out, "{}\r\n", fields.join(","))?;
            }
            Format::Json => {
                let fields: Vec<String> = self
                    .columns
                    .iter()
                    .zip(cells)
                    .map(|(k, v)| format!("\"{k}\":{}", json_cell(v)))
                    .collect();
                let sep = if self.rows == 0 { "\n" } else { ",\n" };
                write!(self.out, "{sep}{{{}}}", fields.join(","))?;
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Close the output (the JSON array), flush it, and hand it back.
    pub fn finish(mut self) -> io::Result<W> {
        if self.format == Format::Json {
            self.out.write_all(b"\n]\n")?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLS: &[&str] = &["id", "note", "amount", "ok", "none"];

    fn sample() -> Vec<Vec<Cell>> {
        vec![
            vec![
                Cell::Int(1),
                Cell::Text("plain".into()),
                Cell::Text("-0.000001".into()),
                Cell::Bool(true),
                Cell::Empty,
            ],
            vec![
                Cell::Int(2),
                Cell::Text("a, \"quoted\"\nline".into()),
                Cell::Text("12345678901234567890.5".into()),
                Cell::Bool(false),
                Cell::Empty,
            ],
        ]
    }

    fn render(format: Format) -> String {
        let mut w = RowWriter::begin(Vec::new(), format, COLS).unwrap();
        for r in sample() {
            w.row(&r).unwrap();
        }
        assert_eq!(w.rows(), 2);
        String::from_utf8(w.finish().unwrap()).unwrap()
    }

    #[test]
    fn csv_quotes_what_rfc_4180_needs_and_nothing_else() {
        assert_eq!(
            render(Format::Csv),
            "id,note,amount,ok,none\r\n1,plain,-0.000001,true,\r\n2,\"a, \"\"quoted\"\"\nline\",12345678901234567890.5,false,\r\n"
        );
    }

    #[test]
    fn json_is_one_array_of_objects_in_column_order() {
        let text = render(Format::Json);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 2);
        assert_eq!(v[1]["note"], "a, \"quoted\"\nline");
        assert_eq!(v[1]["amount"], "12345678901234567890.5");
        assert_eq!(v[0]["none"], serde_json::Value::Null);
        assert!(text.find("\"id\"").unwrap() < text.find("\"note\"").unwrap());
        let empty = RowWriter::begin(Vec::new(), Format::Json, COLS)
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&empty).unwrap(),
            serde_json::json!([])
        );
    }
}
