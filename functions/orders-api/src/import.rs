//! Spreadsheet intake: CSV or XLSX rows into order drafts, each with its row number.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use tracking_domain::order::{AddressDraft, CustomerDraft, OrderDraft};

/// What a merchant's spreadsheet looks like: one header row, then one order per row.
/// Headers are matched loosely ("Customer Email", "customer_email").
pub const COLUMNS: [&str; 11] = [
    "order_number",
    "source",
    "external_order_id",
    "customer_name",
    "customer_email",
    "ship_to_line1",
    "ship_to_line2",
    "ship_to_city",
    "ship_to_state",
    "ship_to_postal_code",
    "ship_to_country",
];

/// The largest file we take: Lambda's synchronous payload limit is 6 MB, and a
/// 5,000-row file is well under 1 MB.
pub const MAX_IMPORT_BYTES: usize = 6 * 1024 * 1024;
pub const MAX_IMPORT_ROWS: usize = 10_000;

/// XLSX is zipped XML that expands 10-100x; a small upload could otherwise unpack into
/// more memory than the function has. 10,000 rows of orders are ~10 MB of sheet XML.
pub const MAX_XLSX_UNPACKED_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct ImportRow {
    /// The row number as the spreadsheet shows it (the header is row 1).
    pub row: usize,
    pub draft: OrderDraft,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImportError {
    #[error("The file is empty.")]
    Empty,
    #[error("The file could not be read as {format}: {reason}.")]
    Unreadable {
        format: &'static str,
        reason: String,
    },
    #[error("The header row has no {0} column. Expected columns: {columns}.", columns = COLUMNS.join(", "))]
    MissingColumn(&'static str),
    #[error("The file has more than {MAX_IMPORT_ROWS} rows; split it into smaller files.")]
    TooManyRows,
    #[error("The workbook unpacks to more than {} MB; upload only the orders sheet, or a CSV.", MAX_XLSX_UNPACKED_BYTES / 1024 / 1024)]
    WorkbookTooLarge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Xlsx,
}

impl FileFormat {
    /// XLSX files are zip archives; anything else is read as CSV. Sniffing the bytes
    /// means a wrong Content-Type from a browser upload still works.
    pub fn detect(bytes: &[u8]) -> Self {
        if bytes.starts_with(b"PK\x03\x04") {
            Self::Xlsx
        } else {
            Self::Csv
        }
    }
}

fn normalize_header(header: &str) -> String {
    header
        .trim()
        .trim_start_matches('\u{feff}')
        .to_ascii_lowercase()
        .replace([' ', '-', '.'], "_")
}

fn rows_to_drafts(records: Vec<Vec<String>>) -> Result<Vec<ImportRow>, ImportError> {
    let mut records = records.into_iter();
    let header = records.next().ok_or(ImportError::Empty)?;
    let header: Vec<String> = header.iter().map(|h| normalize_header(h)).collect();
    let position = |name: &str| header.iter().position(|h| h == name);
    for required in [
        "order_number",
        "customer_name",
        "customer_email",
        "ship_to_line1",
        "ship_to_city",
        "ship_to_country",
    ] {
        if position(required).is_none() {
            return Err(ImportError::MissingColumn(
                COLUMNS
                    .iter()
                    .find(|c| **c == required)
                    .copied()
                    .unwrap_or("order_number"),
            ));
        }
    }
    let positions: Vec<Option<usize>> = COLUMNS.iter().map(|c| position(c)).collect();
    let mut rows = Vec::new();
    for (index, record) in records.enumerate() {
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        if rows.len() == MAX_IMPORT_ROWS {
            return Err(ImportError::TooManyRows);
        }
        let cell = |column: usize| {
            positions[column]
                .and_then(|i| record.get(i))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        rows.push(ImportRow {
            row: index + 2,
            draft: OrderDraft {
                order_number: cell(0).map(serde_json::Value::String),
                // A spreadsheet without a source column is, by definition, a spreadsheet order.
                source: Some(cell(1).unwrap_or_else(|| "excel".to_owned())),
                external_order_id: cell(2),
                customer: Some(CustomerDraft {
                    name: cell(3),
                    email: cell(4),
                }),
                ship_to: Some(AddressDraft {
                    line1: cell(5),
                    line2: cell(6),
                    city: cell(7),
                    state: cell(8),
                    postal_code: cell(9),
                    country: cell(10),
                }),
            },
        });
    }
    Ok(rows)
}

pub fn parse(bytes: &[u8]) -> Result<Vec<ImportRow>, ImportError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ImportError::Empty);
    }
    match FileFormat::detect(bytes) {
        FileFormat::Csv => parse_csv(bytes),
        FileFormat::Xlsx => parse_xlsx(bytes),
    }
}

fn parse_csv(bytes: &[u8]) -> Result<Vec<ImportRow>, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut records = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| ImportError::Unreadable {
            format: "CSV",
            reason: e.to_string(),
        })?;
        records.push(record.iter().map(str::to_owned).collect());
        if records.len() > MAX_IMPORT_ROWS + 1 {
            return Err(ImportError::TooManyRows);
        }
    }
    rows_to_drafts(records)
}

fn parse_xlsx(bytes: &[u8]) -> Result<Vec<ImportRow>, ImportError> {
    let unreadable = |reason: String| ImportError::Unreadable {
        format: "an Excel workbook",
        reason,
    };
    // The zip directory states each part's unpacked size, so an oversized workbook is
    // refused before anything is inflated.
    let archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| unreadable(e.to_string()))?;
    let unpacked: u64 = archive
        .decompressed_size()
        .map_or(u64::MAX, |size| u64::try_from(size).unwrap_or(u64::MAX));
    if unpacked > MAX_XLSX_UNPACKED_BYTES {
        return Err(ImportError::WorkbookTooLarge);
    }
    let mut workbook: Xlsx<Cursor<&[u8]>> = calamine::open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|e: calamine::XlsxError| unreadable(e.to_string()))?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| unreadable("it has no worksheet".into()))?
        .map_err(|e| unreadable(e.to_string()))?;
    if range.height() > MAX_IMPORT_ROWS + 1 {
        return Err(ImportError::TooManyRows);
    }
    // Rows are numbered from the sheet's top, so blank leading rows keep numbers right.
    let top = range.start().map_or(0, |(row, _)| row as usize);
    let mut records: Vec<Vec<String>> = vec![Vec::new(); top];
    records.extend(range.rows().map(|row| row.iter().map(cell_text).collect()));
    let first_non_empty = records
        .iter()
        .position(|r| r.iter().any(|c| !c.trim().is_empty()))
        .unwrap_or(0);
    let rows = rows_to_drafts(records.split_off(first_non_empty))?;
    Ok(rows
        .into_iter()
        .map(|mut r| {
            r.row += first_non_empty;
            r
        })
        .collect())
}

/// Excel stores "1001" typed into a cell as the number 1001.0; order numbers and postal
/// codes must come back as the text the merchant typed.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => d.to_string(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_carry_their_spreadsheet_row_numbers() {
        let csv = "Order Number,Customer Name,Customer Email,Ship To Line1,Ship To City,Ship To Country\n\
                   1001,Ada,ada@example.com,1 Main St,Austin,US\n\
                   ,,,,,\n\
                   1002,Bob,bob@example.com,2 Main St,Dallas,US\n";
        let rows = parse(csv.as_bytes()).unwrap();
        assert_eq!(rows.iter().map(|r| r.row).collect::<Vec<_>>(), [2, 4]);
        assert_eq!(rows[0].draft.source.as_deref(), Some("excel"));
    }

    #[test]
    fn missing_required_column_is_named() {
        let csv = "order_number,customer_name\n1,Ada\n";
        assert_eq!(
            parse(csv.as_bytes()).unwrap_err(),
            ImportError::MissingColumn("customer_email")
        );
    }

    #[test]
    fn empty_file_is_refused() {
        assert_eq!(parse(b"  \n").unwrap_err(), ImportError::Empty);
    }

    #[test]
    fn whole_number_cells_read_as_typed() {
        assert_eq!(cell_text(&Data::Float(1001.0)), "1001");
        assert_eq!(cell_text(&Data::Float(10.5)), "10.5");
    }
}
