//! `[activities.categories]`: which KPI category each activity type counts
//! towards (calls as input, demos as process…), for the activity KPIs.
use std::collections::BTreeMap;

use serde::Deserialize;

use super::error::{ConfigError, Source};
use crate::catalogue::Category;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawActivities {
    categories: BTreeMap<String, String>,
}

pub(super) fn check(
    raw: RawActivities,
    src: &Source<'_>,
) -> Result<BTreeMap<String, Category>, ConfigError> {
    let mut categories = BTreeMap::new();
    for (kind, name) in raw.categories {
        let category = super::kpi::parse_category(&name)
            .map_err(|m| src.invalid("activities.categories", &kind, m))?;
        categories.insert(kind, category);
    }
    Ok(categories)
}
