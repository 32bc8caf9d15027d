//! Replays every committed fuzz corpus and regression input (fuzz/corpus/,
//! fuzz/regressions/) through the fuzz targets' property checks, on stable,
//! as part of `cargo test` — no cargo-fuzz needed. Also runs every test
//! vector through the byte-level targets.

use std::path::Path;

use arbitrary::{Arbitrary, Unstructured};
use testkit::fuzz as fuzzing;

type RoundtripInput = (Vec<(u8, Vec<u8>)>, u8);
type CorruptInput = (Vec<Vec<u8>>, Vec<(u32, u8)>, u8);

fn run(target: &str, data: &[u8]) {
    match target {
        "decode_stream" => fuzzing::decode_stream(data),
        "differential" => fuzzing::differential(data),
        "header" => fuzzing::header(data),
        "recover" => fuzzing::recover(data),
        "writer" => fuzzing::writer(data),
        #[cfg(feature = "tokio")]
        "sink" => fuzzing::sink(data),
        // The sink is tokio's: its corpus replays with the tokio feature.
        #[cfg(not(feature = "tokio"))]
        "sink" => {}
        "deadline" => fuzzing::deadline(data),
        "idle" => fuzzing::idle(data),
        "roundtrip" => {
            // As libfuzzer-sys builds a typed input.
            if let Ok((frames, seed)) = RoundtripInput::arbitrary_take_rest(Unstructured::new(data))
            {
                fuzzing::roundtrip(&frames, seed);
            }
        }
        "corrupt" => {
            if let Ok((p, m, seed)) = CorruptInput::arbitrary_take_rest(Unstructured::new(data)) {
                fuzzing::corrupt(&p, &m, seed);
            }
        }
        other => panic!("unknown fuzz target {other}"),
    }
}

const TARGETS: [&str; 10] = [
    "decode_stream",
    "differential",
    "roundtrip",
    "corrupt",
    "header",
    "recover",
    "writer",
    "sink",
    "deadline",
    "idle",
];

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_file() {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn committed_corpus_and_regressions_pass_every_property() {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.join("fuzz");
    // The published package carries this test (for the vectors test below)
    // but not the corpus; cargo marks an unpacked package with
    // Cargo.toml.orig. In the repository the corpus must be there.
    if !root.exists() && manifest_dir.join("Cargo.toml.orig").exists() {
        eprintln!("an unpacked package: fuzz/ is not in it, nothing to replay");
        return;
    }
    let mut replayed = 0;
    let mut failures = Vec::new();
    for target in TARGETS {
        for dir in ["corpus", "regressions", "artifacts"] {
            for file in files_under(&root.join(dir).join(target)) {
                let data = std::fs::read(&file).unwrap();
                let r = std::panic::catch_unwind(|| run(target, &data));
                if r.is_err() {
                    failures.push(format!("{target}: {}", file.display()));
                }
                replayed += 1;
            }
        }
    }
    assert!(failures.is_empty(), "failing inputs: {failures:#?}");
    // The corpus is committed: an empty replay means it went missing.
    assert!(replayed >= 50, "only {replayed} inputs replayed");
    // Every target of fuzz/fuzz_targets has a committed corpus here.
    for entry in std::fs::read_dir(root.join("fuzz_targets"))
        .unwrap()
        .flatten()
    {
        let name = entry
            .path()
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            TARGETS.contains(&name.as_str()),
            "fuzz target {name} is not replayed"
        );
        assert!(
            !files_under(&root.join("corpus").join(&name)).is_empty(),
            "no corpus for {name}"
        );
    }
}

#[test]
fn every_test_vector_passes_the_byte_level_targets() {
    for v in testkit::vectors::all() {
        if v.max != lpframe::DEFAULT_MAX_FRAME_LEN {
            continue;
        }
        for seed in [0u8, 1, 77, 255] {
            let mut data = vec![seed];
            data.extend_from_slice(&v.input);
            fuzzing::decode_stream(&data);
            fuzzing::differential(&data);
            fuzzing::recover(&data);
        }
        for start in 0..v.input.len().saturating_sub(15) {
            fuzzing::header(&v.input[start..]);
        }
    }
}
