//! Paging a metric's history: [`Db::history_page`] answers one page of a
//! series in step order and the cursor where the next page starts, reading
//! only about a page of points however far into the series it is, so that
//! a client paging through 1M points reads each point once.

use runlog_segment::Columns;

use crate::{Db, Result, RunId};

/// Where a page of history starts: at `step`, after the first `skip` points
/// logged at that step (earlier pages held them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryCursor {
    /// The first step of the page.
    pub step: i64,
    /// The points at `step` that earlier pages already held.
    pub skip: usize,
}

impl HistoryCursor {
    /// The cursor of a first page: every point of the series.
    pub const START: HistoryCursor = HistoryCursor {
        step: i64::MIN,
        skip: 0,
    };
}

impl Db {
    /// Up to `limit` points of a metric from `from` on, in step order (ties
    /// in log order), and the cursor of the next page, or `None` when the
    /// page reaches the end of the series.
    ///
    /// Each page is read from the database as it is when asked: points
    /// logged meanwhile at later steps show on later pages, and none is
    /// answered twice.
    pub fn history_page(
        &self,
        run: RunId,
        name: &str,
        from: HistoryCursor,
        limit: usize,
    ) -> Result<(Columns, Option<HistoryCursor>)> {
        let limit = limit.max(1);
        // One point past the page tells whether another page follows.
        let wanted = from.skip.saturating_add(limit).saturating_add(1);
        let mut read = Columns::default();
        for chunk in self.history_chunks(run, name, from.step.., limit)? {
            let chunk = chunk?;
            read.extend_from(&chunk, 0..chunk.len());
            if read.len() >= wanted {
                break;
            }
        }
        let skip = read
            .steps
            .iter()
            .take(from.skip)
            .take_while(|&&s| s == from.step)
            .count();
        let end = skip.saturating_add(limit).min(read.len());
        let mut page = Columns::default();
        page.extend_from(&read, skip..end);
        let next = read.steps.get(end).map(|&step| HistoryCursor {
            step,
            skip: read.steps[..end].iter().filter(|&&s| s == step).count(),
        });
        Ok((page, next))
    }
}
