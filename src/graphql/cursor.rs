//! Opaque keyset cursors on `(created_at, id)`.

use async_graphql::connection::{Connection, Edge};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::AppError;

pub const MAX_PAGE_SIZE: i32 = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{}:{}",
            self.created_at.timestamp_micros(),
            self.id
        ))
    }

    pub fn decode(raw: &str) -> Result<Cursor, AppError> {
        let bad = || AppError::BadUserInput("invalid cursor".into());
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let (micros, id) = text.split_once(':').ok_or_else(bad)?;
        let micros: i64 = micros.parse().map_err(|_| bad())?;
        Ok(Cursor {
            created_at: DateTime::from_timestamp_micros(micros).ok_or_else(bad)?,
            id: Uuid::parse_str(id).map_err(|_| bad())?,
        })
    }
}

/// `first` and `after` of a connection, validated.
#[derive(Clone, Copy, Debug)]
pub struct PageRequest {
    pub after: Option<Cursor>,
    pub limit: i64,
}

impl PageRequest {
    pub fn new(first: i32, after: Option<&str>) -> Result<Self, AppError> {
        Ok(PageRequest {
            limit: page_size(first)?,
            after: after.map(Cursor::decode).transpose()?,
        })
    }

    /// The keyset to continue after, for the model's `page` query.
    pub fn keyset(&self) -> Option<(DateTime<Utc>, Uuid)> {
        self.after.map(|c| (c.created_at, c.id))
    }

    /// How many rows to fetch: one more than the page tells whether there is a next.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// Cuts fetched rows down to the page; true when there is a next page.
    pub fn trim<T>(&self, rows: &mut Vec<T>) -> bool {
        let limit = usize::try_from(self.limit).unwrap_or(0);
        let has_next = rows.len() > limit;
        rows.truncate(limit);
        has_next
    }

    /// The Relay connection of a trimmed page.
    pub fn connection<T, N: async_graphql::OutputType>(
        &self,
        rows: Vec<T>,
        has_next: bool,
        key: impl Fn(&T) -> Cursor,
        mut node: impl FnMut(T) -> N,
    ) -> Connection<String, N> {
        let mut connection = Connection::new(self.after.is_some(), has_next);
        connection.edges.extend(rows.into_iter().map(|row| {
            let cursor = key(&row).encode();
            Edge::new(cursor, node(row))
        }));
        connection
    }
}

/// Validates `first`.
pub fn page_size(first: i32) -> Result<i64, AppError> {
    if !(1..=MAX_PAGE_SIZE).contains(&first) {
        return Err(AppError::BadUserInput(format!(
            "first must be between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    Ok(i64::from(first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = Cursor {
            created_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap_or_default(),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&c.encode()).ok(), Some(c));
        assert!(Cursor::decode("!!!").is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode("x:y")).is_err());
    }
}
