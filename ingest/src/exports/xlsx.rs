//! The dossier list of a campaign as a spreadsheet (`dossiers.xlsx`), the columns of
//! `dossiers.csv` (see [`super::dossiers`]) on one sheet, `Dossiers`, under a frozen bold
//! header. Cells are text (never formulas, so nothing needs defusing), `complete` a boolean.
//!
//! The sheet is written in `rust_xlsxwriter`'s constant-memory mode: each row goes to a
//! temporary file as soon as the next one starts, and strings are written in their cells
//! rather than in a shared table, so memory holds one page of dossiers whatever their number.
//! The workbook is then saved to an anonymous temporary file, streamed by the caller. Runs on
//! a blocking thread.

use std::fs::File;
use std::io::{Seek, SeekFrom};

use rust_xlsxwriter::{Format, Workbook, XlsxError};
use tokio::runtime::Handle;

use super::dossiers::{Cell, Columns};
use super::pages::Pages;
use crate::error::Error;

pub const CONTENT_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The longest text a cell holds, in UTF-16 units (Excel's limit).
const MAX_CELL_UNITS: usize = 32_767;

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("xlsx: {e}"))
}

/// Writes every page's dossiers; the file, rewound for reading.
pub fn write(mut pages: Pages, columns: &Columns) -> Result<File, Error> {
    let handle = Handle::current();
    let mut workbook = Workbook::new();
    let sheet = workbook
        .add_worksheet_with_constant_memory()
        .map_err(internal)?;
    sheet.set_name("Dossiers").map_err(internal)?;
    sheet.set_freeze_panes(1, 0).map_err(internal)?;
    let bold = Format::new().set_bold();
    for (col, title) in columns.header().into_iter().enumerate() {
        sheet
            .write_string_with_format(0, column(col)?, title, &bold)
            .map_err(internal)?;
    }
    let mut row: u32 = 0;
    while let Some(page) = handle.block_on(pages.next())? {
        for snapshot in &page.dossiers {
            row += 1;
            for (col, cell) in columns.row(snapshot).into_iter().enumerate() {
                let col = column(col)?;
                let written = match cell {
                    Cell::Text(text) => sheet.write_string(row, col, fit(text)),
                    Cell::Flag(flag) => sheet.write_boolean(row, col, flag),
                };
                written.map_err(|e: XlsxError| internal(e))?;
            }
        }
    }
    let mut file = tempfile::tempfile().map_err(internal)?;
    workbook.save_to_writer(&mut file).map_err(internal)?;
    file.seek(SeekFrom::Start(0)).map_err(internal)?;
    Ok(file)
}

fn column(index: usize) -> Result<u16, Error> {
    u16::try_from(index).map_err(|_| internal(format!("column {index} out of range")))
}

/// `text`, cut to what a cell holds.
fn fit(text: String) -> String {
    if text.len() <= MAX_CELL_UNITS {
        return text; // UTF-16 never needs more units than UTF-8 needs bytes
    }
    let mut units = 0;
    text.chars()
        .take_while(|c| {
            units += c.len_utf16();
            units <= MAX_CELL_UNITS
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_cut_to_a_cell() {
        assert_eq!(fit("court".into()), "court");
        let long = "é".repeat(40_000);
        assert_eq!(fit(long).chars().count(), MAX_CELL_UNITS);
        let emoji = "😀".repeat(20_000);
        assert_eq!(fit(emoji).chars().count(), MAX_CELL_UNITS / 2);
    }
}
