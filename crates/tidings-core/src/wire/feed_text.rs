//! A feed page whose items storage already wrote as JSON text, and the
//! [`FeedResponse`](super::FeedResponse) written around them without
//! parsing them.

use super::{FeedCounts, PageInfo};

/// Separates the items in a page written by storage: the ASCII record
/// separator, which JSON text never holds unescaped.
pub const ITEM_SEPARATOR: char = '\u{1e}';

/// Why a page written by storage cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PageTextError {
    /// The text has no line of ids after the items.
    #[error("the page has no ids")]
    MissingIds,
    /// There are not as many items as ids.
    #[error("the page has {items} items for {ids} ids")]
    Mismatch {
        /// Items found.
        items: usize,
        /// Ids found.
        ids: usize,
    },
}

/// A page's items as a JSON array, newest first, the ids at its two ends,
/// and whether the feed goes on past the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageText {
    /// A JSON array of [`FeedItem`](super::FeedItem)s.
    pub items_json: String,
    /// The id of the page's newest item; `None` for an empty page.
    pub newest: Option<String>,
    /// The id of the page's oldest item; `None` for an empty page.
    pub oldest: Option<String>,
    /// Whether more items were found past the page, in the direction it was
    /// read (older ones, or newer ones when reading back).
    pub beyond: bool,
}

/// Reads `<item>\u{1e}<item>…\n<id>,<id>,…`: up to `limit + 1` items, each
/// a [`FeedItem`](super::FeedItem)'s JSON, with their ids, as storage
/// fetched them: newest first, or oldest first when `reading_back`. The
/// ids show the order storage took (an aggregate's input order is its own to
/// choose), and items out of order are put in order without being parsed.
/// Returns the first `limit` items, newest first.
pub fn assemble_page(text: &str, limit: u32, reading_back: bool) -> Result<PageText, PageTextError> {
    let (items, ids) = text.rsplit_once('\n').ok_or(PageTextError::MissingIds)?;
    let items: Vec<&str> = if items.is_empty() { Vec::new() } else { items.split(ITEM_SEPARATOR).collect() };
    let ids: Vec<&str> = if ids.is_empty() { Vec::new() } else { ids.split(',').collect() };
    if items.len() != ids.len() {
        return Err(PageTextError::Mismatch { items: items.len(), ids: ids.len() });
    }
    let mut found: Vec<(&str, &str)> = ids.into_iter().zip(items).collect();
    let fetch_order = |a: &&str, b: &&str| if reading_back { a.cmp(b) } else { b.cmp(a) };
    if !found.windows(2).all(|pair| fetch_order(&pair[0].0, &pair[1].0).is_lt()) {
        found.sort_unstable_by(|a, b| fetch_order(&a.0, &b.0));
    }
    let beyond = found.len() > limit as usize;
    found.truncate(limit as usize);
    if reading_back {
        found.reverse();
    }
    let mut items_json = String::with_capacity(text.len() + 2);
    items_json.push('[');
    for (index, (_, item)) in found.iter().enumerate() {
        if index > 0 {
            items_json.push(',');
        }
        items_json.push_str(item);
    }
    items_json.push(']');
    let newest = found.first().map(|(id, _)| (*id).to_owned());
    let oldest = found.last().map(|(id, _)| (*id).to_owned());
    Ok(PageText { items_json, newest, oldest, beyond })
}

/// The JSON of a [`FeedResponse`](super::FeedResponse) with these items,
/// field for field as serde writes it.
pub fn feed_response_json(
    items_json: &str,
    page_info: &PageInfo,
    counts: &FeedCounts,
    watermark: &str,
) -> Result<String, serde_json::Error> {
    let rest = serde_json::to_string(&FeedResponseRest { page_info, counts, watermark })?;
    // `rest` is `{"page_info":…}`: the items go in front of its first field.
    Ok(format!("{{\"items\":{items_json},{}", rest.strip_prefix('{').unwrap_or(&rest)))
}

/// The fields of a [`FeedResponse`](super::FeedResponse) after `items`.
#[derive(serde::Serialize)]
struct FeedResponseRest<'a> {
    page_info: &'a PageInfo,
    counts: &'a FeedCounts,
    watermark: &'a str,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{FeedItem, FeedResponse};
    use super::*;

    fn item(id: &str) -> FeedItem {
        FeedItem {
            id: id.to_owned(),
            workflow: "welcome".to_owned(),
            subject: "Héllo \"there\"\n\u{1e}".to_owned(),
            body: "b".to_owned(),
            avatar: None,
            actions: vec![],
            tags: vec!["a".to_owned()],
            payload: json!({"n": 1.5, "list": [1, {"k": null}]}),
            created_at: "2026-01-01T00:00:00.000Z".to_owned(),
            seen_at: Some("2026-01-01T00:00:01.001Z".to_owned()),
            read_at: None,
            archived_at: None,
            attachments: vec![],
        }
    }

    /// A page as storage writes it, items in the order of `ids`.
    fn stored(ids: &[&str]) -> String {
        let items: Vec<String> = ids.iter().map(|id| serde_json::to_string(&item(id)).unwrap()).collect();
        format!("{}\n{}", items.join(&ITEM_SEPARATOR.to_string()), ids.join(","))
    }

    fn items_json(ids: &[&str]) -> String {
        serde_json::to_string(&ids.iter().map(|id| item(id)).collect::<Vec<_>>()).unwrap()
    }

    /// The ids at a page's two ends: newest, oldest.
    fn ends(page: &PageText) -> (Option<&str>, Option<&str>) {
        (page.newest.as_deref(), page.oldest.as_deref())
    }

    #[test]
    fn keeps_a_page_read_newest_first_and_drops_the_item_past_it() {
        let page = assemble_page(&stored(&["04", "03", "02"]), 2, false).unwrap();
        assert_eq!(page.items_json, items_json(&["04", "03"]));
        assert_eq!(ends(&page), (Some("04"), Some("03")));
        assert!(page.beyond);
        let page = assemble_page(&stored(&["04", "03"]), 2, false).unwrap();
        assert!(!page.beyond);
    }

    #[test]
    fn turns_a_page_read_back_newest_first() {
        let page = assemble_page(&stored(&["02", "03", "04"]), 2, true).unwrap();
        assert_eq!(ends(&page), (Some("03"), Some("02")));
        assert_eq!(page.items_json, items_json(&["03", "02"]));
        assert!(page.beyond);
    }

    #[test]
    fn orders_items_storage_gave_out_of_order() {
        let page = assemble_page(&stored(&["02", "04", "03"]), 2, false).unwrap();
        assert_eq!(ends(&page), (Some("04"), Some("03")));
        assert_eq!(page.items_json, items_json(&["04", "03"]));
        let page = assemble_page(&stored(&["04", "02", "03"]), 5, true).unwrap();
        assert_eq!(ends(&page), (Some("04"), Some("02")));
        assert_eq!(page.items_json, items_json(&["04", "03", "02"]));
    }

    #[test]
    fn reads_an_empty_page() {
        let page = assemble_page("\n", 20, false).unwrap();
        assert_eq!(page.items_json, "[]");
        assert_eq!(ends(&page), (None, None));
        assert!(!page.beyond);
    }

    #[test]
    fn refuses_pages_without_ids_or_with_too_few() {
        assert_eq!(assemble_page("", 20, false), Err(PageTextError::MissingIds));
        let text = format!("{}\n01,02", serde_json::to_string(&item("01")).unwrap());
        assert_eq!(assemble_page(&text, 20, false), Err(PageTextError::Mismatch { items: 1, ids: 2 }));
    }

    #[test]
    fn writes_the_response_as_serde_does() {
        let items = vec![item("02"), item("01")];
        let page_info = PageInfo { after: Some("01".to_owned()), before: None, has_more: true };
        let counts = FeedCounts { total: 3, unread: 2, unseen: 1 };
        let expected = serde_json::to_string(&FeedResponse {
            items: items.clone(),
            page_info: page_info.clone(),
            counts,
            watermark: "7".to_owned(),
        })
        .unwrap();
        let items_json = serde_json::to_string(&items).unwrap();
        assert_eq!(feed_response_json(&items_json, &page_info, &counts, "7").unwrap(), expected);
    }
}
