//! The layering check: every `crate::…` path in `host/src` is read, each file is mapped to
//! its top-level module, and the test fails when a module imports one above it (or beside
//! it, outside the order below) or when the imports between modules form a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, top first: each may import only those after it.
const LAYERS: &[&str] = &[
    "commands",
    "runner",
    "sandbox",
    "capabilities",
    "job",
    "plumbing",
];

/// The top-level module a source file belongs to (`runner/history/tests.rs` → `runner`).
fn module_of(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main" | "layers")).then(|| name.to_string())
}

/// The top-level modules `source` names through `crate::`, comments left out: `use
/// crate::a::b`, `use crate::{a, b::c}` and paths written inline.
fn imports_of(source: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            if let Some(group) = after.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or_default();
                for item in inner.split(',') {
                    let head = item.trim().split("::").next().unwrap_or_default();
                    if !head.is_empty() {
                        found.insert(head.to_string());
                    }
                }
            } else {
                let head: String = after
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !head.is_empty() {
                    found.insert(head);
                }
            }
            rest = after;
        }
    }
    found
}

/// Module → the other top-level modules it imports.
fn graph(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let Some(module) = module_of(path.strip_prefix(root).unwrap()) else {
                continue;
            };
            let source = std::fs::read_to_string(&path).unwrap();
            let imports = graph.entry(module.clone()).or_default();
            imports.extend(imports_of(&source).into_iter().filter(|m| *m != module));
        }
    }
    graph
}

/// A cycle in `graph`, as the modules along it, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

fn source_graph() -> BTreeMap<String, BTreeSet<String>> {
    graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

#[test]
fn no_cycle_between_top_level_modules() {
    let graph = source_graph();
    assert!(graph.contains_key("runner") && graph.contains_key("plumbing"));
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle: {}", cycle.join(" → "));
    }
}

#[test]
fn each_layer_imports_only_those_below_it() {
    let graph = source_graph();
    let unknown: Vec<&String> = graph
        .keys()
        .filter(|m| !LAYERS.contains(&m.as_str()))
        .collect();
    assert!(unknown.is_empty(), "modules in no layer: {unknown:?}");
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
    let mut upward = Vec::new();
    for (module, imports) in &graph {
        for import in imports {
            if rank(import).is_some_and(|r| r <= rank(module).unwrap()) {
                upward.push(format!("{module} imports {import}"));
            }
        }
    }
    assert!(upward.is_empty(), "imports against the layers: {upward:?}");
    assert!(graph["plumbing"].is_empty(), "{:?}", graph["plumbing"]);
}

#[test]
fn the_check_sees_every_form_of_import() {
    let source = "use crate::a::b;\nuse crate::{c, d::e};\nlet x = crate::f::g(); // crate::h\n";
    let found: Vec<String> = imports_of(source).into_iter().collect();
    assert_eq!(found, ["a", "c", "d", "f"]);
    let mut graph = BTreeMap::new();
    graph.insert("x".to_string(), BTreeSet::from(["y".to_string()]));
    graph.insert("y".to_string(), BTreeSet::from(["z".to_string()]));
    assert_eq!(find_cycle(&graph), None);
    graph.insert("z".to_string(), BTreeSet::from(["x".to_string()]));
    assert_eq!(find_cycle(&graph).unwrap(), ["x", "y", "z", "x"]);
}
