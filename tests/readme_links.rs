//! Every link in README.md resolves from a clone (and from the unpacked
//! package, which carries the same files): relative links name files that
//! exist, and their `#anchor`s name headings of those files (GitHub's
//! slugs). Links to the web are not followed.

use std::path::Path;

fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn readme_links_resolve_from_a_clone() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut checked = 0;
    for (i, _) in readme.match_indices("](") {
        let rest = &readme[i + 2..];
        let Some(end) = rest.find(')') else { continue };
        let target = &rest[..end];
        assert!(
            !target.contains("docs.rs/lpframe") && !target.contains("docs.rs/crate/lpframe"),
            "{target}: a docs.rs page that does not exist before a release"
        );
        if target.starts_with("http") {
            continue;
        }
        let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
        let text = std::fs::read_to_string(root.join(file))
            .unwrap_or_else(|e| panic!("README.md links {target}: {e}"));
        if !anchor.is_empty() {
            let found = text
                .lines()
                .filter_map(|l| l.strip_prefix('#'))
                .map(|l| slug(l.trim_start_matches('#')))
                .any(|s| s == anchor);
            assert!(found, "README.md links {target}: no such heading in {file}");
        }
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} relative links checked");
}
