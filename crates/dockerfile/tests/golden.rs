//! The canonical text of every instruction kind, pinned. A stage's digest is made from
//! these texts, so a change here changes every stage digest there is: every cache entry in
//! every `--repo` and store is then rebuilt. The test fails on any change; when a change is
//! meant, run it with `SLIPWAY_UPDATE_GOLDEN=1` and say in the commit that caches rebuild.

use std::path::Path;

#[test]
fn the_normalized_text_of_every_instruction_is_pinned() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let text = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    let df = slipway_dockerfile::parse(&text).expect("the golden Dockerfile parses");
    let mut got = String::new();
    for (i, stage) in df.stages.iter().enumerate() {
        got.push_str(&format!("# stage {i}\n"));
        for ins in &stage.instructions {
            got.push_str(&ins.normalized());
            got.push('\n');
        }
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, got.as_bytes());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let golden = dir.join("normalized.txt");
    let pinned = format!("{got}# sha256 {hex}\n");
    if std::env::var_os("SLIPWAY_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &pinned).unwrap();
    }
    let want = std::fs::read_to_string(&golden)
        .expect("tests/golden/normalized.txt (SLIPWAY_UPDATE_GOLDEN=1 writes it)");
    assert_eq!(
        pinned, want,
        "the canonical text changed, so every stage digest would change"
    );
}
