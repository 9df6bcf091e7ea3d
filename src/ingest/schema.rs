//! The snapshot files and their columns (snapshot-format.md), as data.
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    Customers,
    Deals,
    Orders,
    Tickets,
    Surveys,
    Spend,
    Activities,
    Measures,
}

impl FileKind {
    /// Import order: customers first, so that later rows see their segments.
    pub const ALL: [FileKind; 8] = [
        FileKind::Customers,
        FileKind::Deals,
        FileKind::Orders,
        FileKind::Tickets,
        FileKind::Surveys,
        FileKind::Spend,
        FileKind::Activities,
        FileKind::Measures,
    ];

    /// The config key and table name (`customers`).
    pub fn key(self) -> &'static str {
        match self {
            FileKind::Customers => "customers",
            FileKind::Deals => "deals",
            FileKind::Orders => "orders",
            FileKind::Tickets => "tickets",
            FileKind::Surveys => "surveys",
            FileKind::Spend => "spend",
            FileKind::Activities => "activities",
            FileKind::Measures => "measures",
        }
    }

    pub fn default_file_name(self) -> String {
        format!("{}.csv", self.key())
    }

    pub fn parse(key: &str) -> Option<FileKind> {
        FileKind::ALL.into_iter().find(|k| k.key() == key)
    }

    pub fn columns(self) -> &'static [Column] {
        use ColumnType::*;
        match self {
            FileKind::Customers => {
                const C: &[Column] = &[
                    col("customer_id", Text, true),
                    col("acquired_on", Date, true),
                    col("churned_on", Date, false),
                ];
                C
            }
            FileKind::Deals => {
                const C: &[Column] = &[
                    col("deal_id", Text, true),
                    col("created_on", Date, true),
                    col("stage", Text, true),
                    col("closed_on", Date, false),
                    col("amount", Decimal, false),
                    col("customer_id", Text, false),
                    col("owner", Text, false),
                ];
                C
            }
            FileKind::Orders => {
                const C: &[Column] = &[
                    col("order_id", Text, true),
                    col("customer_id", Text, true),
                    col("ordered_on", Date, true),
                    col("amount", Decimal, true),
                    col("cost", Decimal, false),
                ];
                C
            }
            FileKind::Tickets => {
                const C: &[Column] = &[
                    col("ticket_id", Text, true),
                    col("opened_at", Timestamp, true),
                    col("first_response_at", Timestamp, false),
                    col("resolved_at", Timestamp, false),
                    col("customer_id", Text, false),
                    col("channel", Text, false),
                ];
                C
            }
            FileKind::Surveys => {
                const C: &[Column] = &[
                    col("response_id", Text, true),
                    col("answered_on", Date, true),
                    col("kind", Text, true),
                    col("score", Integer, true),
                    col("customer_id", Text, false),
                    col("comment", Text, false),
                ];
                C
            }
            FileKind::Spend => {
                const C: &[Column] = &[
                    col("spend_id", Text, true),
                    col("spent_on", Date, true),
                    col("category", Text, true),
                    col("amount", Decimal, true),
                ];
                C
            }
            FileKind::Activities => {
                const C: &[Column] = &[
                    col("activity_id", Text, true),
                    col("occurred_on", Date, true),
                    col("kind", Text, true),
                    col("owner", Text, false),
                    col("customer_id", Text, false),
                ];
                C
            }
            FileKind::Measures => {
                const C: &[Column] = &[
                    col("period", Text, true),
                    col("kpi", Text, true),
                    col("value", Decimal, true),
                    col("segment", Text, false),
                ];
                C
            }
        }
    }

    /// Whether unknown columns are kept as segment attributes.
    pub fn keeps_attributes(self) -> bool {
        matches!(self, FileKind::Customers | FileKind::Spend)
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Date,
    Timestamp,
    Decimal,
    Integer,
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    pub required: bool,
}

const fn col(name: &'static str, ty: ColumnType, required: bool) -> Column {
    Column { name, ty, required }
}
