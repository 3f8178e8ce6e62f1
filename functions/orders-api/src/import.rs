//! Spreadsheet intake: CSV or XLSX rows into order drafts, each with its row number.

use std::collections::BTreeMap;
use std::io::Cursor;

use calamine::{DataRef, Dimensions, Reader, Xlsx};
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
/// Orders per file, below the header row.
pub const MAX_IMPORT_ROWS: usize = 10_000;
/// Columns A to BL: the import reads 11 columns, and room for a merchant's own notes
/// beside them costs nothing; a sheet reaching column XFD is not an order list.
pub const MAX_IMPORT_COLUMNS: usize = 64;

/// XLSX is zipped XML that expands 10-100x; a small upload could otherwise unpack into
/// more memory than the function has. 10,000 rows of orders are ~10 MB of sheet XML.
pub const MAX_XLSX_UNPACKED_BYTES: u64 = 32 * 1024 * 1024;

/// The last column an import reads, as Excel names it.
const LAST_COLUMN_NAME: &str = "BL";

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
    /// `declared`: the sheet's own used range says so, before any row was read.
    #[error("{}", too_many_rows(*declared))]
    TooManyRows { declared: bool },
    #[error("{}", too_many_columns(*declared))]
    TooManyColumns { declared: bool },
    #[error("The workbook unpacks to more than {} MB; upload only the orders sheet, or a CSV.", MAX_XLSX_UNPACKED_BYTES / 1024 / 1024)]
    WorkbookTooLarge,
}

fn too_many_rows(declared: bool) -> String {
    if declared {
        format!("The sheet's used range covers more than {} rows (a header and {MAX_IMPORT_ROWS} orders). Delete the unused rows below your orders, or split the file.", MAX_IMPORT_ROWS + 1)
    } else {
        format!("The file has more than {MAX_IMPORT_ROWS} orders; split it into files of at most {MAX_IMPORT_ROWS}.")
    }
}

fn too_many_columns(declared: bool) -> String {
    if declared {
        format!("The sheet's used range reaches past column {LAST_COLUMN_NAME} (an import reads at most {MAX_IMPORT_COLUMNS} columns). Delete the unused columns to the right of your orders.")
    } else {
        format!("The file has values past column {LAST_COLUMN_NAME} (an import reads at most {MAX_IMPORT_COLUMNS} columns). Remove them, or keep the order columns and save a copy.")
    }
}

impl ImportError {
    /// Past a documented limit (answered 422), as opposed to a file we cannot read (400).
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            Self::TooManyRows { .. } | Self::TooManyColumns { .. } | Self::WorkbookTooLarge
        )
    }

    /// The stable error code of the API answer.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooManyRows { .. } => "too_many_rows",
            Self::TooManyColumns { .. } => "too_many_columns",
            Self::WorkbookTooLarge => "workbook_too_large",
            Self::Empty | Self::Unreadable { .. } | Self::MissingColumn(_) => "unreadable_file",
        }
    }
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

/// The non-empty cells of a sheet, kept only while within the limits: reading stops at
/// the first value past them, so memory is bounded by the limits whatever the file
/// declares. Blank cells (empty or only spaces) are never kept, so rows of them, such as
/// a used range running past the data or CSV lines of commas, are not rows at all.
#[derive(Debug, Default)]
struct SheetRows {
    /// Zero-based sheet row -> cells by column. Ordered, because XLSX cells may come in
    /// any order and the header is the topmost row.
    rows: BTreeMap<usize, Vec<String>>,
}

impl SheetRows {
    fn put(&mut self, row: usize, column: usize, text: String) -> Result<(), ImportError> {
        if text.trim().is_empty() {
            return Ok(());
        }
        if column >= MAX_IMPORT_COLUMNS {
            return Err(ImportError::TooManyColumns { declared: false });
        }
        // A header and MAX_IMPORT_ROWS orders.
        if !self.rows.contains_key(&row) && self.rows.len() > MAX_IMPORT_ROWS {
            return Err(ImportError::TooManyRows { declared: false });
        }
        let cells = self.rows.entry(row).or_default();
        if cells.len() <= column {
            cells.resize(column + 1, String::new());
        }
        cells[column] = text;
        Ok(())
    }
}

fn rows_to_drafts(sheet: SheetRows) -> Result<Vec<ImportRow>, ImportError> {
    let mut records = sheet.rows.into_iter();
    let (_, header) = records.next().ok_or(ImportError::Empty)?;
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
    for (index, record) in records {
        let cell = |column: usize| {
            positions[column]
                .and_then(|i| record.get(i))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        rows.push(ImportRow {
            row: index + 1,
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
    let mut sheet = SheetRows::default();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| ImportError::Unreadable {
            format: "CSV",
            reason: e.to_string(),
        })?;
        for (column, field) in record.iter().enumerate() {
            sheet.put(index, column, field.to_owned())?;
        }
    }
    rows_to_drafts(sheet)
}

fn parse_xlsx(bytes: &[u8]) -> Result<Vec<ImportRow>, ImportError> {
    let unreadable = |reason: String| ImportError::Unreadable {
        format: "an Excel workbook",
        reason,
    };
    // The zip directory states each part's unpacked size, so an oversized workbook is
    // refused before anything is inflated. The zip reader holds every part to its stated
    // size (reading past it is an error), so an understated size cannot unpack more.
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
    let first_sheet = workbook
        .sheet_names()
        .into_iter()
        .next()
        .ok_or_else(|| unreadable("it has no worksheet".into()))?;
    // Streamed cell by cell: a range would be allocated over the sheet's whole extent,
    // which a 2 KB file can make 16,384 columns by 10,001 rows.
    let mut cells = workbook
        .worksheet_cells_reader(&first_sheet)
        .map_err(|e| unreadable(e.to_string()))?;
    check_declared(cells.dimensions())?;
    let mut sheet = SheetRows::default();
    while let Some(cell) = cells.next_cell().map_err(|e| unreadable(e.to_string()))? {
        let (row, column) = cell.get_position();
        sheet.put(row as usize, column as usize, cell_text(cell.get_value()))?;
    }
    rows_to_drafts(sheet)
}

/// The `<dimension>` a sheet declares (its used range) is read before its first row, so
/// a sheet that says it is too large is refused without reading a cell. A sheet may also
/// declare nothing or less than it holds; reading then stops at the limits instead.
fn check_declared(dimensions: Dimensions) -> Result<(), ImportError> {
    let (start, end) = (dimensions.start, dimensions.end);
    // Reversed corners declare nothing we can trust.
    let Some(height) = end.0.checked_sub(start.0).map(|rows| rows as usize + 1) else {
        return Ok(());
    };
    if height > MAX_IMPORT_ROWS + 1 {
        return Err(ImportError::TooManyRows { declared: true });
    }
    if end.1 as usize >= MAX_IMPORT_COLUMNS {
        return Err(ImportError::TooManyColumns { declared: true });
    }
    Ok(())
}

/// Excel stores "1001" typed into a cell as the number 1001.0; order numbers and postal
/// codes must come back as the text the merchant typed.
fn cell_text(cell: &DataRef<'_>) -> String {
    match cell {
        DataRef::Empty => String::new(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        DataRef::Float(f) => f.to_string(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(d) => d.to_string(),
        DataRef::Error(e) => format!("#{e:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const HEADER: [&str; 6] = [
        "order_number",
        "customer_name",
        "customer_email",
        "ship_to_line1",
        "ship_to_city",
        "ship_to_country",
    ];

    /// A minimal workbook, built in memory: the parts calamine needs and one sheet whose
    /// `<dimension>` and `<sheetData>` body the test chooses.
    fn workbook(dimension: Option<&str>, sheet_data: &str, shared_strings: &[&str]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let relationships = |target: &str, kind: &str| {
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/{kind}" Target="{target}"/></Relationships>"#
            )
        };
        let dimension = dimension
            .map(|d| format!(r#"<dimension ref="{d}"/>"#))
            .unwrap_or_default();
        let mut parts = vec![
            ("_rels/.rels", relationships("xl/workbook.xml", "officeDocument")),
            (
                "xl/workbook.xml",
                r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Orders" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_owned(),
            ),
            (
                "xl/_rels/workbook.xml.rels",
                relationships("worksheets/sheet1.xml", "worksheet"),
            ),
            (
                "xl/worksheets/sheet1.xml",
                format!(
                    r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{dimension}<sheetData>{sheet_data}</sheetData></worksheet>"#
                ),
            ),
        ];
        if !shared_strings.is_empty() {
            let items: String = shared_strings
                .iter()
                .map(|s| format!("<si><t>{s}</t></si>"))
                .collect();
            parts.push((
                "xl/sharedStrings.xml",
                format!(
                    r#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{items}</sst>"#
                ),
            ));
        }
        for (name, body) in parts {
            zip.start_file(name, options).unwrap();
            zip.write_all(body.as_bytes()).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    fn column_name(mut column: usize) -> String {
        let mut name = Vec::new();
        loop {
            name.push(b'A' + (column % 26) as u8);
            if column < 26 {
                break;
            }
            column = column / 26 - 1;
        }
        name.reverse();
        String::from_utf8(name).unwrap()
    }

    fn text_cell(row: usize, column: usize, text: &str) -> String {
        let at = format!("{}{row}", column_name(column));
        format!(r#"<c r="{at}" t="inlineStr"><is><t>{text}</t></is></c>"#)
    }

    fn sheet_row(row: usize, values: &[&str]) -> String {
        let cells: String = values
            .iter()
            .enumerate()
            .map(|(column, value)| text_cell(row, column, value))
            .collect();
        format!(r#"<row r="{row}">{cells}</row>"#)
    }

    fn order_row(row: usize) -> String {
        let number = format!("{row}");
        let email = format!("c{row}@example.com");
        sheet_row(row, &[&number, "Ada", &email, "1 Main St", "Austin", "US"])
    }

    #[test]
    fn sheet_declaring_16384_columns_by_10001_rows_is_refused_before_any_row_is_read() {
        // Past the dimension the sheet data is broken: reading a single row would fail
        // with "unreadable", so a limit error proves no row was read.
        let xlsx = workbook(
            Some("A1:XFD10001"),
            &format!(
                "{}<row r=\"2\"><c r=\"A2\" t=\"inlineStr\"><is><t>",
                sheet_row(1, &HEADER)
            ),
            &[],
        );
        assert!(xlsx.len() < 2048, "{} bytes", xlsx.len());
        assert_eq!(
            parse(&xlsx).unwrap_err(),
            ImportError::TooManyColumns { declared: true }
        );
    }

    #[test]
    fn declared_rows_are_refused_one_past_the_limit_and_taken_at_it() {
        let at_limit = format!("A1:F{}", MAX_IMPORT_ROWS + 1);
        let past_limit = format!("A1:F{}", MAX_IMPORT_ROWS + 2);
        let data = format!("{}{}", sheet_row(1, &HEADER), order_row(2));
        assert_eq!(
            parse(&workbook(Some(&at_limit), &data, &[])).unwrap().len(),
            1
        );
        assert_eq!(
            parse(&workbook(Some(&past_limit), &data, &[])).unwrap_err(),
            ImportError::TooManyRows { declared: true }
        );
        // Counted from the range's top row: a header lower down does not shrink the limit.
        let lower = format!("A5:F{}", MAX_IMPORT_ROWS + 5);
        let data = format!("{}{}", sheet_row(5, &HEADER), order_row(6));
        let rows = parse(&workbook(Some(&lower), &data, &[])).unwrap();
        assert_eq!(rows[0].row, 6);
    }

    #[test]
    fn declared_columns_are_taken_up_to_bl_and_refused_from_bm() {
        let data = format!("{}{}", sheet_row(1, &HEADER), order_row(2));
        assert_eq!(
            parse(&workbook(Some("A1:BL2"), &data, &[])).unwrap().len(),
            1
        );
        assert_eq!(
            parse(&workbook(Some("A1:BM2"), &data, &[])).unwrap_err(),
            ImportError::TooManyColumns { declared: true }
        );
    }

    #[test]
    fn a_value_at_the_far_corner_stops_the_reading_even_without_a_declared_size() {
        let xlsx = workbook(
            None,
            &format!(
                "{}<row r=\"10001\">{}</row>",
                sheet_row(1, &HEADER),
                text_cell(10_001, 16_383, "x")
            ),
            &[],
        );
        assert_eq!(
            parse(&xlsx).unwrap_err(),
            ImportError::TooManyColumns { declared: false }
        );
    }

    #[test]
    fn a_sheet_understating_its_size_is_stopped_at_the_row_limit_while_reading() {
        let mut data = sheet_row(1, &HEADER);
        for row in 2..=MAX_IMPORT_ROWS + 2 {
            data.push_str(&order_row(row));
        }
        let xlsx = workbook(Some("A1:F2"), &data, &[]);
        assert_eq!(
            parse(&xlsx).unwrap_err(),
            ImportError::TooManyRows { declared: false }
        );
        // One row fewer is exactly the limit.
        let end = data.rfind("<row ").unwrap();
        let rows = parse(&workbook(Some("A1:F2"), &data[..end], &[])).unwrap();
        assert_eq!(rows.len(), MAX_IMPORT_ROWS);
        assert_eq!(rows.last().unwrap().row, MAX_IMPORT_ROWS + 1);
    }

    #[test]
    fn blank_rows_in_a_range_running_past_the_data_are_not_rows() {
        // Row 3: empty inline strings and spaces; row 4: a shared empty string and a
        // style-only cell; row 5: nothing at all. The range claims 50 rows.
        let data = format!(
            "{}{}{}{}",
            sheet_row(1, &HEADER),
            order_row(2),
            sheet_row(3, &["", " ", "", "", "", "  "]),
            r#"<row r="4"><c r="A4" t="s"><v>0</v></c><c r="B4" s="1"/></row><row r="5"/>"#
        );
        let rows = parse(&workbook(Some("A1:F50"), &data, &[""])).unwrap();
        assert_eq!(rows.iter().map(|r| r.row).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn csv_lines_of_commas_after_the_data_are_not_rows_and_do_not_count() {
        let mut csv = format!("{}\n", HEADER.join(","));
        for n in 0..MAX_IMPORT_ROWS {
            csv.push_str(&format!("{n},Ada,c{n}@example.com,1 Main St,Austin,US\n"));
        }
        for _ in 0..20 {
            csv.push_str(",,,,,\n\"\", ,,,,\n");
        }
        let rows = parse(csv.as_bytes()).unwrap();
        assert_eq!(rows.len(), MAX_IMPORT_ROWS);
        csv.push_str("late,Bob,bob@example.com,2 Main St,Dallas,US\n");
        assert_eq!(
            parse(csv.as_bytes()).unwrap_err(),
            ImportError::TooManyRows { declared: false }
        );
    }

    #[test]
    fn csv_values_past_column_bl_are_refused_but_empty_fields_there_are_not() {
        let header = HEADER.join(",");
        let order = "1,Ada,ada@example.com,1 Main St,Austin,US";
        let padding = ",".repeat(200);
        let csv = format!("{header}{padding}\n{order}{padding}\n");
        assert_eq!(parse(csv.as_bytes()).unwrap().len(), 1);
        let up_to_bl = format!(
            "{header}{}note\n{order}\n",
            ",".repeat(MAX_IMPORT_COLUMNS - HEADER.len())
        );
        assert_eq!(parse(up_to_bl.as_bytes()).unwrap().len(), 1);
        let at_bm = format!(
            "{header}{}note\n{order}\n",
            ",".repeat(MAX_IMPORT_COLUMNS - HEADER.len() + 1)
        );
        assert_eq!(
            parse(at_bm.as_bytes()).unwrap_err(),
            ImportError::TooManyColumns { declared: false }
        );
    }

    #[test]
    fn a_workbook_stating_more_than_32_mib_unpacked_is_refused_before_inflating() {
        let valid = workbook(None, &sheet_row(1, &HEADER), &[]);
        let mut zip = zip::ZipWriter::new_append(Cursor::new(valid)).unwrap();
        zip.start_file(
            "xl/media/padding.bin",
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated),
        )
        .unwrap();
        let block = vec![0u8; 1024 * 1024];
        for _ in 0..=MAX_XLSX_UNPACKED_BYTES / block.len() as u64 {
            zip.write_all(&block).unwrap();
        }
        let xlsx = zip.finish().unwrap().into_inner();
        assert!(xlsx.len() < 1024 * 1024, "{} bytes", xlsx.len());
        assert_eq!(parse(&xlsx).unwrap_err(), ImportError::WorkbookTooLarge);
    }

    #[test]
    fn a_part_unpacking_past_its_stated_size_is_unreadable() {
        let mut data = sheet_row(1, &HEADER);
        for row in 2..200 {
            data.push_str(&order_row(row));
        }
        let mut xlsx = workbook(None, &data, &[]);
        let stated = 1_000u32.to_le_bytes();
        // Local header (uncompressed size at byte 22) and central directory entry (at 24)
        // of the sheet part both understate it.
        let name = b"xl/worksheets/sheet1.xml";
        for (signature, size_at) in [(b"PK\x03\x04", 22), (b"PK\x01\x02", 24)] {
            let header = (0..xlsx.len() - 46)
                .find(|&i| {
                    &xlsx[i..i + 4] == signature && {
                        let name_at = if size_at == 22 { i + 30 } else { i + 46 };
                        xlsx[name_at..].starts_with(name)
                    }
                })
                .unwrap();
            xlsx[header + size_at..header + size_at + 4].copy_from_slice(&stated);
        }
        let error = parse(&xlsx).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("larger than its declared uncompressed size"),
            "{error}"
        );
    }

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
        assert_eq!(cell_text(&DataRef::Float(1001.0)), "1001");
        assert_eq!(cell_text(&DataRef::Float(10.5)), "10.5");
    }
}
