//! The shape of a document, measured before async-graphql walks it.

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

/// Refuses an operation with more than [`MAX_ROOT_FIELDS`] root fields
/// (aliases included, fragments followed), a document whose fragments
/// expand to more than [`MAX_EXPANDED_FIELDS`] fields, and fragment cycles;
/// the error is the message for the client.
///
/// Each root field is a resolver of its own (usually a database query),
/// however little it selects. The expansion bound matters because
/// async-graphql's own checks (recursion depth, complexity) follow every
/// fragment spread anew: a 3 KB document of fragments that each spread the
/// previous one four times took minutes of CPU before it was refused. Here
/// each fragment is measured once.
///
/// [`MAX_ROOT_FIELDS`]: crate::graphql::MAX_ROOT_FIELDS
/// [`MAX_EXPANDED_FIELDS`]: crate::graphql::MAX_EXPANDED_FIELDS
pub(super) fn check_shape(document: &ExecutableDocument) -> Result<(), String> {
    let max_root = crate::graphql::MAX_ROOT_FIELDS;
    let max_expanded = crate::graphql::MAX_EXPANDED_FIELDS;
    let mut shape = Shape {
        document,
        sizes: std::collections::HashMap::new(),
        open: std::collections::HashSet::new(),
    };
    for (_, op) in document.operations.iter() {
        let set = &op.node.selection_set.node;
        let root = shape.size(set, false)?;
        if root > max_root {
            return Err(format!(
                "the query is too complex: {root} root fields, at most {max_root}"
            ));
        }
        let expanded = shape.size(set, true)?;
        if expanded > max_expanded {
            return Err(format!(
                "the query is too complex: its fragments expand to {expanded} fields, \
                 at most {max_expanded}"
            ));
        }
    }
    Ok(())
}

/// Field counts of selection sets with fragments expanded, each fragment
/// measured once (per kind of count).
struct Shape<'a> {
    document: &'a ExecutableDocument,
    sizes: std::collections::HashMap<(&'a str, bool), usize>,
    /// Fragments being measured: meeting one again is a cycle.
    open: std::collections::HashSet<&'a str>,
}

impl<'a> Shape<'a> {
    /// Fields in `set`; with `deep`, nested fields too.
    fn size(&mut self, set: &'a SelectionSet, deep: bool) -> Result<usize, String> {
        let mut total: usize = 0;
        for item in &set.items {
            let n = match &item.node {
                Selection::Field(field) => {
                    if deep {
                        1 + self.size(&field.node.selection_set.node, deep)?
                    } else {
                        1
                    }
                }
                Selection::InlineFragment(f) => self.size(&f.node.selection_set.node, deep)?,
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if let Some(&n) = self.sizes.get(&(name, deep)) {
                        n
                    } else {
                        let Some(fragment) =
                            self.document.fragments.get(&spread.node.fragment_name.node)
                        else {
                            // Unknown fragments are validation's to report.
                            continue;
                        };
                        if !self.open.insert(name) {
                            return Err(format!("fragment {name} spreads itself"));
                        }
                        let n = self.size(&fragment.node.selection_set.node, deep)?;
                        self.open.remove(name);
                        self.sizes.insert((name, deep), n);
                        n
                    }
                }
            };
            total = total.saturating_add(n);
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment_bomb(levels: usize, nested: bool) -> String {
        let mut query = if nested {
            format!("{{ me {{ ...F{levels} }} }}\nfragment F0 on User {{ id }}\n")
        } else {
            format!("{{ ...F{levels} }}\nfragment F0 on Query {{ me {{ id }} }}\n")
        };
        let on = if nested { "User" } else { "Query" };
        for i in 1..=levels {
            let p = i - 1;
            query.push_str(&format!(
                "fragment F{i} on {on} {{ ...F{p} ...F{p} ...F{p} ...F{p} }}\n"
            ));
        }
        query
    }

    #[test]
    fn fragment_bombs_and_cycles_are_refused_before_async_graphql_walks_them() {
        for (query, expect) in [
            (fragment_bomb(14, false), "268435456 root fields"),
            (fragment_bomb(14, true), "expand to 268435457 fields"),
            (
                "{ me { ...A } }\nfragment A on User { id ...B ...B }\nfragment B on User { ...A ...A }"
                    .to_owned(),
                "spreads itself",
            ),
        ] {
            let document = async_graphql::parser::parse_query(&query).expect("parses");
            let message = check_shape(&document).expect_err("refused");
            assert!(message.contains(expect), "{message}");
        }
        // An ordinary fragment is fine.
        let shape = async_graphql::parser::parse_query(
            "{ me { ...U } }\nfragment U on User { id username }",
        )
        .expect("parses");
        assert_eq!(check_shape(&shape), Ok(()));
    }
}
