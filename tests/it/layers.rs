//! The shape of the code (README, "Architecture"): every module's imports point down the layers below, and
//! inside a module the files import one another without a loop. Read from the source text, so a new import
//! that runs up a layer fails here before anyone has to untangle it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The library's top-level modules, top to bottom. A module may import only from the groups below its
/// own; modules in one group do not import each other.
const LAYERS: &[&[&str]] = &[
    &["app"],
    &["console"],
    &["api", "cli"],
    &["state"],
    &["worker"],
    &["telemetry", "server", "wire", "keys"],
    &["config"],
    &["store"],
    &["metrics"],
    &["throughput"],
    &["domain"],
    &["clock"],
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|group| group.contains(&module))
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The source without comments, so a doc link such as [`crate::api::call`] is not an import.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("a source file is readable");
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Expands a use tree (`a::{b, c::{d, e}}`) into its paths.
fn expand(tree: &str) -> Vec<Vec<String>> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or_default();
        let segments = path.split("::").map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        return vec![segments.collect()];
    };
    let prefix: Vec<String> = tree[..open]
        .split("::")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let inner = &tree[open + 1..tree.rfind('}').expect("a use group closes")];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|part| !part.trim().is_empty())
        .flat_map(expand)
        .map(|rest| {
            prefix
                .iter()
                .cloned()
                .chain(rest.into_iter().filter(|s| s != "self"))
                .collect()
        })
        .collect()
}

/// The paths a file names from `root` (`crate` or `super`): in `use` statements and written out in code.
fn paths_from(code: &str, root: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest_of_code = String::new();
    let mut text = code;
    let opening = format!("use {root}::");
    while let Some(at) = text.find(&opening) {
        rest_of_code.push_str(&text[..at]);
        let end = text[at..].find(';').map_or(text.len(), |e| at + e);
        paths.extend(expand(&text[at + opening.len()..end]));
        text = &text[end..];
    }
    rest_of_code.push_str(text);
    let written = format!("{root}::");
    let mut search = rest_of_code.as_str();
    while let Some(at) = search.find(&written) {
        let before = search[..at].chars().next_back();
        let after = &search[at + written.len()..];
        if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            let path: Vec<String> = after
                .split("::")
                .map(|s| {
                    s.chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect::<String>()
                })
                .take_while(|s| !s.is_empty())
                .take(2)
                .collect();
            paths.push(path);
        }
        search = after;
    }
    paths
}

/// Where a file sits: its top-level module, and the sub-module of it that it belongs to with its depth
/// below that sub-module (`store/postgres/claim.rs` is in `store`, sub-module `postgres`, depth 1).
struct Place {
    module: String,
    sub: Option<(String, usize)>,
}

fn place_of(file: &Path) -> Option<Place> {
    let relative = file.strip_prefix(src()).ok()?;
    let parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    match parts.as_slice() {
        [only] if only == "lib" || only == "main" => None,
        [first, ..] if first == "bin" => None,
        [module] => Some(Place {
            module: module.clone(),
            sub: None,
        }),
        [module, last] if last == "mod" => Some(Place {
            module: module.clone(),
            sub: None,
        }),
        [module, sub, rest @ ..] => {
            let depth = rest.len() - usize::from(rest.last().is_some_and(|l| l == "mod"));
            Some(Place {
                module: module.clone(),
                sub: Some((sub.clone(), depth)),
            })
        }
        [] => None,
    }
}

/// The sub-modules of a top-level module: its files and folders.
fn submodules(module: &str) -> BTreeSet<String> {
    let dir = src().join(module);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return BTreeSet::new();
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.path().file_stem().unwrap_or_default().to_string_lossy().to_string())
        .filter(|name| name != "mod")
        .collect()
}

#[test]
fn every_top_level_module_has_a_layer() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).expect("lib.rs is readable");
    let modules: Vec<&str> = lib
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("pub mod ")
                .or_else(|| l.trim().strip_prefix("mod "))
        })
        .map(|l| l.trim_end_matches(';'))
        .collect();
    assert!(modules.len() >= 10, "lib.rs lists the modules: {modules:?}");
    for module in &modules {
        assert!(
            layer_of(module).is_some(),
            "`{module}` is in no layer: add it to LAYERS in tests/it/layers.rs and to the README's architecture"
        );
    }
    for module in LAYERS.iter().flat_map(|g| g.iter()) {
        assert!(
            modules.contains(module),
            "LAYERS names `{module}`, which lib.rs does not declare"
        );
    }
}

#[test]
fn every_import_points_down_a_layer() {
    let mut upward = Vec::new();
    let mut checked = 0;
    for file in rust_files(&src()) {
        let Some(place) = place_of(&file) else { continue };
        let own = layer_of(&place.module).expect("every module has a layer (see the test above)");
        for path in paths_from(&code_of(&file), "crate") {
            let Some(target) = path.first() else { continue };
            checked += 1;
            if *target == place.module {
                continue;
            }
            match layer_of(target) {
                Some(layer) if layer > own => {}
                _ => upward.push(format!(
                    "{} imports crate::{} ({} is not below {})",
                    file.strip_prefix(src()).unwrap().display(),
                    path.join("::"),
                    target,
                    place.module
                )),
            }
        }
    }
    assert!(checked > 200, "the scan found the crate's imports ({checked})");
    assert!(upward.is_empty(), "imports that run up a layer:\n{}", upward.join("\n"));
}

#[test]
fn the_files_of_a_module_import_one_another_without_a_loop() {
    // Within each top-level module, which sub-module imports which.
    let mut edges: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in rust_files(&src()) {
        let Some(Place {
            module,
            sub: Some((sub, depth)),
        }) = place_of(&file)
        else {
            continue;
        };
        let siblings = submodules(&module);
        let code = code_of(&file);
        let mut named: Vec<String> = paths_from(&code, "crate")
            .into_iter()
            .filter(|p| p.first() == Some(&module))
            .filter_map(|p| p.get(1).cloned())
            .collect();
        // `super::x` from a file directly in the module; `super::super::x` from one a folder deeper.
        let up = "super::".repeat(depth);
        for path in paths_from(&code, &format!("{up}super")) {
            named.extend(path.first().cloned());
        }
        for target in named {
            if target != sub && siblings.contains(&target) {
                edges
                    .entry(module.clone())
                    .or_default()
                    .entry(sub.clone())
                    .or_default()
                    .insert(target);
            }
        }
    }
    assert!(edges.contains_key("store") && edges.contains_key("worker"), "{edges:?}");
    let mut loops = Vec::new();
    for (module, graph) in &edges {
        if let Some(cycle) = find_cycle(graph) {
            loops.push(format!("{module}: {}", cycle.join(" → ")));
        }
    }
    assert!(
        loops.is_empty(),
        "files that import each other in a loop:\n{}",
        loops.join("\n")
    );
}

/// A loop in a directed graph, as the names along it (first repeated last), if there is one.
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

#[test]
fn the_scan_reads_use_trees_and_finds_a_loop() {
    let paths = expand("a::{b, c::{d, e as f}, self}");
    assert_eq!(
        paths,
        vec![vec!["a", "b"], vec!["a", "c", "d"], vec!["a", "c", "e"], vec!["a"]]
    );
    let graph: BTreeMap<String, BTreeSet<String>> = [("x", "y"), ("y", "z"), ("z", "x")]
        .into_iter()
        .map(|(a, b)| (a.to_string(), BTreeSet::from([b.to_string()])))
        .collect();
    assert_eq!(find_cycle(&graph).unwrap(), vec!["x", "y", "z", "x"]);
    let code = "use crate::{api::call, store::Store};\nfn f() { crate::worker::wake::Wake::default(); }";
    assert_eq!(
        paths_from(code, "crate"),
        vec![vec!["api", "call"], vec!["store", "Store"], vec!["worker", "wake"]]
    );
}
