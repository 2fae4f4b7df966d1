//! Multi-platform builds: which platforms each image is built for, whether this machine can
//! run commands of a platform, and the image index that publishes an image built for more
//! than one platform under one tag.
//!
//! An image's platforms are `--platform` when given (it overrides werf.yaml), else the
//! image's own `platform:` list, else `build.platform`, else this machine's platform. Each
//! platform is planned and built on its own: its base images are resolved for it, and the
//! platform is part of every stage digest. With one platform the image is the platform's
//! image, as before; with more, slipway writes an image index (one manifest per platform,
//! in platform order) and tags it with a digest of the platforms' own tags, so the same
//! platform images always give the same index under the same tag.

use std::path::Path;

use slipway_oci::{Descriptor, Digest, ImageConfig, ImageIndex, Manifest, Platform, media};
use slipway_werf::ImageSpec;

use crate::BuildError;
use crate::stage::platform_text;

use super::{BuildOptions, Event, ImageReport, Run, StageReport, StageStatus, registry_err};

/// Where the kernel lists the interpreters it runs foreign executables with.
pub const BINFMT_MISC: &str = "/proc/sys/fs/binfmt_misc";

/// Returns `p` in its usual form, as container tools compare platforms: `x86_64` is
/// `amd64` and `aarch64` is `arm64`; `arm64` has no variant (`v8` is the only one); `arm`
/// without a variant is `arm/v7`; `amd64/v1` is `amd64`.
pub fn normalize(p: &Platform) -> Platform {
    let os = p.os.to_ascii_lowercase();
    let arch = p.architecture.to_ascii_lowercase();
    let (arch, variant) = match (arch.as_str(), p.variant.as_deref()) {
        ("x86_64" | "x86-64" | "amd64", Some("v1") | None) => ("amd64".to_string(), None),
        ("x86_64" | "x86-64", v) => ("amd64".to_string(), v.map(str::to_string)),
        ("aarch64" | "arm64", Some("v8" | "8") | None) => ("arm64".to_string(), None),
        ("aarch64", v) => ("arm64".to_string(), v.map(str::to_string)),
        ("arm", None) => ("arm".to_string(), Some("v7".to_string())),
        ("arm", Some(v)) if !v.starts_with('v') => ("arm".to_string(), Some(format!("v{v}"))),
        ("i386" | "i686", v) => ("386".to_string(), v.map(str::to_string)),
        (a, v) => (a.to_string(), v.map(str::to_string)),
    };
    Platform {
        architecture: arch,
        os,
        variant,
        os_version: None,
        os_features: None,
    }
}

/// Returns the platforms to build `spec` for, normalized, in platform order (as `os/arch`
/// text sorts): `opts.platforms` when not empty, else the image's own list (or
/// `build.platform`), else `host`.
///
/// # Errors
/// [`BuildError::Usage`] for a platform werf.yaml gives that does not parse, or for one
/// given twice (`linux/arm64` and `linux/arm64/v8` are the same platform).
pub(crate) fn image_platforms(
    spec: &ImageSpec,
    opts: &BuildOptions,
    host: &Platform,
) -> Result<Vec<Platform>, BuildError> {
    let (given, from): (Vec<Platform>, String) = if !opts.platforms.is_empty() {
        (opts.platforms.clone(), "--platform".to_string())
    } else if !spec.platforms.is_empty() {
        let parsed = spec
            .platforms
            .iter()
            .map(|p| {
                Platform::parse(p).map_err(|e| {
                    BuildError::Usage(format!("image `{}`: werf.yaml `platform`: {e}", spec.name))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        (
            parsed,
            format!("werf.yaml's platform list of image `{}`", spec.name),
        )
    } else {
        (vec![host.clone()], String::new())
    };
    let mut out: Vec<Platform> = Vec::with_capacity(given.len());
    for (p, n) in given.iter().zip(given.iter().map(normalize)) {
        if out.contains(&n) {
            return Err(BuildError::Usage(format!(
                "{from} names {} twice ({p} is {}); give each platform once",
                platform_text(&n),
                platform_text(&n)
            )));
        }
        out.push(n);
    }
    out.sort_by_key(platform_text);
    Ok(out)
}

/// Tells whether `want` runs on this machine without an emulator: the same operating system
/// and architecture as `host`.
pub(crate) fn runs_natively(want: &Platform, host: &Platform) -> bool {
    want.os == host.os && want.architecture == host.architecture
}

/// The name QEMU gives the CPU of an architecture, as its user-mode emulators are named
/// (`qemu-aarch64`) and as binfmt_misc handlers are registered.
fn qemu_cpu(arch: &str, variant: Option<&str>) -> String {
    match (arch, variant) {
        ("amd64", _) => "x86_64".into(),
        ("arm64", _) => "aarch64".into(),
        ("386", _) => "i386".into(),
        ("mips64le", _) => "mips64el".into(),
        ("mipsle", _) => "mipsel".into(),
        ("loong64", _) => "loongarch64".into(),
        (a, _) => a.into(),
    }
}

/// Checks that commands of `want` can run on this machine: natively, or through a
/// binfmt_misc handler of QEMU registered in `binfmt_dir` (normally [`BINFMT_MISC`]),
/// enabled, and with the `F` flag (the interpreter opened when it was registered, so that
/// it runs inside buildah's chroot too).
///
/// # Errors
/// Why not, in words: binfmt_misc is not mounted, no handler for the CPU is registered, or
/// it is disabled or lacks the `F` flag.
pub fn check_emulator(want: &Platform, host: &Platform, binfmt_dir: &Path) -> Result<(), String> {
    if runs_natively(want, host) {
        return Ok(());
    }
    if want.os != "linux" {
        return Err(format!(
            "it is not a Linux platform, and this machine runs {}",
            platform_text(host)
        ));
    }
    let cpu = qemu_cpu(&want.architecture, want.variant.as_deref());
    let status = std::fs::read_to_string(binfmt_dir.join("status")).map_err(|_| {
        format!(
            "this machine is {} and has no emulator for it: binfmt_misc is not mounted at {}",
            platform_text(host),
            binfmt_dir.display()
        )
    })?;
    if status.trim() != "enabled" {
        return Err(format!(
            "this machine is {} and has no emulator for it: binfmt_misc is disabled ({} says {})",
            platform_text(host),
            binfmt_dir.join("status").display(),
            status.trim()
        ));
    }
    let named = |name: &str| {
        let name = name.rsplit('/').next().unwrap_or(name);
        let want = format!("qemu-{cpu}");
        name == want || name.strip_prefix(&want).is_some_and(|r| r.starts_with('-'))
    };
    let mut found: Option<String> = None;
    let entries =
        std::fs::read_dir(binfmt_dir).map_err(|e| format!("{}: {e}", binfmt_dir.display()))?;
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if file == "status" || file == "register" {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        let interpreter = text
            .lines()
            .find_map(|l| l.strip_prefix("interpreter "))
            .unwrap_or_default()
            .trim();
        if !named(&file) && !named(interpreter) {
            continue;
        }
        let enabled = text.lines().next().is_some_and(|l| l.trim() == "enabled");
        let flags = text
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .unwrap_or_default()
            .trim()
            .to_string();
        if enabled && flags.contains('F') {
            return Ok(());
        }
        found = Some(if enabled {
            format!(
                "the handler {} for {cpu} is registered without the F flag (flags: {flags}), \
                 so buildah's chroot cannot reach its interpreter {interpreter}",
                entry.path().display()
            )
        } else {
            format!(
                "the handler {} for {cpu} is disabled",
                entry.path().display()
            )
        });
    }
    Err(found.unwrap_or_else(|| {
        format!(
            "this machine is {} and has no emulator for it: no binfmt_misc handler for {cpu} \
             (qemu-{cpu}) is registered in {}",
            platform_text(host),
            binfmt_dir.display()
        )
    }))
}

/// Returns the tag of a multi-platform image: a digest of its platforms and of each
/// platform's own tag, in platform order.
pub(crate) fn index_tag(parts: &[(String, String)]) -> Digest {
    let mut text = String::from("slipway multi-platform image\n");
    for (platform, tag) in parts {
        text.push_str(platform);
        text.push(' ');
        text.push_str(tag);
        text.push('\n');
    }
    Digest::sha256_of(text.as_bytes())
}

/// The error for a stage with `RUN` built for a platform this machine cannot run: bad
/// input, naming the image, the stage, the platform and why.
pub(crate) fn foreign_run(
    spec: &ImageSpec,
    stage: &str,
    line: usize,
    platform: &Platform,
    why: &str,
) -> BuildError {
    let p = platform_text(platform);
    BuildError::Plan {
        path: spec.dockerfile.clone(),
        line,
        message: format!(
            "image `{}`, stage {stage}: RUN would run {p} programs for the {p} image, and {why}; \
             slipway builds stages without RUN for any platform, but RUN only for a platform \
             this machine runs: build this image for {p} on a {p} machine, leave {p} out of its \
             platforms, or register QEMU's user-mode emulator for it (binfmt_misc, with the F \
             flag)",
            spec.name
        ),
    }
}

impl Run<'_> {
    /// Plans and builds for `p` from now on; `several` says the image has more than one
    /// platform.
    pub(crate) fn select_platform(&mut self, p: &Platform, several: bool) {
        self.platform = p.clone();
        self.several = several;
    }

    /// Refuses, before anything is built, an image whose Dockerfile has a `RUN` in a stage
    /// it needs, for a platform of `list` this machine cannot run. Used for images planned
    /// only after their dependencies are built: their imports are stood in for by a
    /// placeholder, which names no stage. (Planning checks again, with the real values.)
    pub(crate) fn refuse_foreign_runs(
        &mut self,
        spec: &ImageSpec,
        df: &slipway_dockerfile::Dockerfile,
        list: &[Platform],
    ) -> Result<(), BuildError> {
        let host = self.host.clone();
        for p in list {
            let Err(why) = check_emulator(p, &host, Path::new(BINFMT_MISC)) else {
                continue;
            };
            let mut args = spec.args.clone();
            for dep in &spec.dependencies {
                for imp in &dep.imports {
                    args.insert(
                        imp.target_build_arg.clone(),
                        "slipway.invalid/placeholder:dependency".into(),
                    );
                }
            }
            let ignore = slipway_glob::DockerIgnore::default();
            let input = crate::stage::PlanInput {
                dockerfile_path: &spec.dockerfile,
                context: &spec.context,
                ignore: &ignore,
                target: spec.target.as_deref(),
                args: &args,
                platform: p,
                build_platform: &host,
                format: &self.opts.format,
                hashes: self.hashes,
                cache_version: spec.cache_version.as_deref(),
                add_hosts: &spec.add_hosts,
            };
            // A Dockerfile that cannot be planned is reported when it is planned.
            let Ok(needed) = crate::stage::needed_stages(df, &input) else {
                continue;
            };
            for i in needed {
                let stage = &df.stages[i];
                let run = stage
                    .instructions
                    .iter()
                    .find(|ins| matches!(ins.kind, slipway_dockerfile::Kind::Run(_)));
                if let Some(ins) = run {
                    let label = stage.name.clone().unwrap_or_else(|| i.to_string());
                    return Err(foreign_run(spec, &label, ins.line, p, &why));
                }
            }
        }
        Ok(())
    }

    /// Publishes an image built for several platforms: an image index naming each
    /// platform's image (`per`, in platform order), tagged in `--repo` (or the store) by
    /// [`index_tag`]. Returns the image's report: the index's repository, tag and digest,
    /// and every platform's stages.
    pub(crate) fn publish_index(
        &mut self,
        spec: &ImageSpec,
        per: &[(Platform, ImageReport)],
    ) -> Result<ImageReport, BuildError> {
        let parts: Vec<(String, String)> = per
            .iter()
            .map(|(p, r)| (platform_text(p), r.docker_tag.clone()))
            .collect();
        let tag = index_tag(&parts);
        let mut manifests = Vec::with_capacity(per.len());
        let mut all_docker = true;
        for (p, r) in per {
            let digest = Digest::parse(&r.docker_image_digest).map_err(|e| {
                BuildError::Usage(format!(
                    "image `{}` ({}): manifest digest {}: {e}",
                    spec.name,
                    platform_text(p),
                    r.docker_image_digest
                ))
            })?;
            let stage = Digest::parse(&format!("sha256:{}", r.docker_tag))
                .unwrap_or_else(|_| digest.clone());
            let bytes = self.blob(&stage, &digest, None)?;
            let manifest = Manifest::parse(&bytes, None)?;
            let media_type = manifest.media_type(None);
            let Some(image) = manifest.as_image() else {
                return Err(BuildError::Usage(format!(
                    "image `{}` ({}): {digest} is not an image manifest",
                    spec.name,
                    platform_text(p)
                )));
            };
            let config = self.blob(&stage, &image.config.digest, Some(&image.config))?;
            let platform = ImageConfig::parse(&config)
                .ok()
                .and_then(|c| c.platform())
                .unwrap_or_else(|| p.clone());
            all_docker &= media_type == media::DOCKER_MANIFEST;
            let mut desc = Descriptor::new(media_type, digest, bytes.len() as u64);
            desc.platform = Some(platform);
            manifests.push(desc);
        }
        let index_type = if all_docker {
            media::DOCKER_MANIFEST_LIST
        } else {
            media::OCI_INDEX
        };
        let index = ImageIndex {
            schema_version: 2,
            media_type: Some(index_type.into()),
            manifests,
            annotations: None,
        };
        let bytes = serde_json::to_vec(&index).expect("JSON");
        let digest = Digest::sha256_of(&bytes);
        let started = std::time::Instant::now();
        let status = match self.opts.repo.clone() {
            Some(repo) => {
                let reg = self.registry(&repo)?;
                let r = repo.with_tag(tag.hex());
                let now = self
                    .rt
                    .block_on(reg.manifest_digest(&r.repository, tag.hex()))
                    .map_err(registry_err(&r))?;
                if now.as_ref() == Some(&digest) {
                    StageStatus::Cached
                } else {
                    self.index_event(&spec.name, &tag, StageStatus::Pushing, None);
                    self.rt
                        .block_on(reg.put_manifest(&r.repository, tag.hex(), &bytes, index_type))
                        .map_err(registry_err(&r))?;
                    StageStatus::Pushed
                }
            }
            None => {
                let here = self.store.resolve(Some(tag.hex())).ok();
                if here.is_some_and(|d| d.digest == digest) {
                    StageStatus::Cached
                } else {
                    self.store.write_blob(&bytes)?;
                    self.store.set_tag(
                        tag.hex(),
                        &Descriptor::new(index_type, digest.clone(), bytes.len() as u64),
                    )?;
                    StageStatus::Built
                }
            }
        };
        let secs = (status != StageStatus::Cached).then(|| started.elapsed().as_secs_f64());
        self.index_event(&spec.name, &tag, status, secs);
        let repo = match &self.opts.repo {
            Some(r) => r.name(),
            None => format!("oci:{}", self.store_path.display()),
        };
        let mut backends: Vec<&str> = vec![];
        for (_, r) in per {
            if !backends.contains(&r.backend.as_str()) {
                backends.push(&r.backend);
            }
        }
        let stages: Vec<StageReport> = per
            .iter()
            .flat_map(|(p, r)| {
                r.stages.iter().map(|s| StageReport {
                    platform: Some(platform_text(p)),
                    ..s.clone()
                })
            })
            .collect();
        Ok(ImageReport {
            werf_image_name: spec.name.clone(),
            docker_image_name: format!("{repo}:{}", tag.hex()),
            docker_repo: repo,
            docker_tag: tag.hex().to_string(),
            docker_image_digest: digest.to_string(),
            // An index has no config of its own; each platform's image ID is in
            // `ImagesByPlatform`, as werf leaves it.
            docker_image_id: String::new(),
            target_platform: String::new(),
            rebuilt: per.iter().any(|(_, r)| r.rebuilt),
            is_final: spec.is_final,
            backend: backends.join(", "),
            stages,
        })
    }

    /// Tells the observer where the index is, as a stage line labelled `index`.
    fn index_event(&self, image: &str, tag: &Digest, status: StageStatus, secs: Option<f64>) {
        self.observer.event(&Event::Stage {
            image,
            platform: None,
            stage: "index",
            digest: tag,
            status,
            seconds: secs,
            backend: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        Platform::parse(s).unwrap()
    }

    #[test]
    fn normalizes_platforms_as_container_tools_compare_them() {
        for (given, want) in [
            ("linux/amd64", "linux/amd64"),
            ("linux/x86_64", "linux/amd64"),
            ("linux/amd64/v1", "linux/amd64"),
            ("linux/amd64/v3", "linux/amd64/v3"),
            ("linux/arm64", "linux/arm64"),
            ("linux/arm64/v8", "linux/arm64"),
            ("linux/aarch64", "linux/arm64"),
            ("linux/arm", "linux/arm/v7"),
            ("linux/arm/6", "linux/arm/v6"),
            ("linux/arm/v6", "linux/arm/v6"),
            ("Linux/ARM64", "linux/arm64"),
            ("linux/386", "linux/386"),
            ("linux/i386", "linux/386"),
            ("linux/s390x", "linux/s390x"),
        ] {
            assert_eq!(platform_text(&normalize(&p(given))), want, "{given}");
        }
    }

    /// A fake binfmt_misc folder holding `handlers` (file name, contents).
    fn binfmt(status: Option<&str>, handlers: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        if let Some(s) = status {
            std::fs::write(dir.path().join("status"), s).unwrap();
            std::fs::write(dir.path().join("register"), "").unwrap();
        }
        for (name, text) in handlers {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    const AARCH64_F: &str = "enabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: OCF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\n";

    #[test]
    fn finds_whether_a_platform_can_run_here() {
        let host = p("linux/amd64");
        let arm64 = p("linux/arm64");
        // The host's own platform needs nothing, even without binfmt_misc.
        let none = binfmt(None, &[]);
        assert_eq!(
            check_emulator(&p("linux/amd64/v3"), &host, none.path()),
            Ok(())
        );
        let e = check_emulator(&arm64, &host, none.path()).unwrap_err();
        assert!(e.contains("not mounted"), "{e}");
        let e = check_emulator(&p("windows/amd64"), &host, none.path()).unwrap_err();
        assert!(e.contains("not a Linux platform"), "{e}");

        let off = binfmt(Some("disabled\n"), &[("qemu-aarch64", AARCH64_F)]);
        let e = check_emulator(&arm64, &host, off.path()).unwrap_err();
        assert!(e.contains("binfmt_misc is disabled"), "{e}");

        let empty = binfmt(Some("enabled\n"), &[]);
        let e = check_emulator(&arm64, &host, empty.path()).unwrap_err();
        assert!(e.contains("no binfmt_misc handler for aarch64"), "{e}");

        let ok = binfmt(Some("enabled\n"), &[("qemu-aarch64", AARCH64_F)]);
        assert_eq!(check_emulator(&arm64, &host, ok.path()), Ok(()));
        // Another CPU's handler is not this one's (qemu-arm is not qemu-armeb's).
        let e = check_emulator(&p("linux/arm/v7"), &host, ok.path()).unwrap_err();
        assert!(e.contains("no binfmt_misc handler for arm "), "{e}");
        let armeb = binfmt(
            Some("enabled\n"),
            &[(
                "qemu-armeb",
                "enabled\ninterpreter /usr/bin/qemu-armeb-static\nflags: F\n",
            )],
        );
        assert!(check_emulator(&p("linux/arm/v7"), &host, armeb.path()).is_err());
        // Found by its interpreter, under another handler name.
        let renamed = binfmt(Some("enabled\n"), &[("aarch64", AARCH64_F)]);
        assert_eq!(check_emulator(&arm64, &host, renamed.path()), Ok(()));

        let disabled = binfmt(
            Some("enabled\n"),
            &[(
                "qemu-aarch64",
                &AARCH64_F.replacen("enabled", "disabled", 1),
            )],
        );
        let e = check_emulator(&arm64, &host, disabled.path()).unwrap_err();
        assert!(e.contains("is disabled"), "{e}");
        let no_f = binfmt(
            Some("enabled\n"),
            &[(
                "qemu-aarch64",
                &AARCH64_F.replace("flags: OCF", "flags: OC"),
            )],
        );
        let e = check_emulator(&arm64, &host, no_f.path()).unwrap_err();
        assert!(e.contains("without the F flag"), "{e}");
    }

    #[test]
    fn the_index_tag_covers_each_platform_and_its_tag() {
        let a = ("linux/amd64".to_string(), "1".repeat(64));
        let b = ("linux/arm64".to_string(), "2".repeat(64));
        let t = index_tag(&[a.clone(), b.clone()]);
        assert_eq!(t, index_tag(&[a.clone(), b.clone()]));
        assert_ne!(t, index_tag(&[b.clone(), a.clone()]));
        assert_ne!(t, index_tag(std::slice::from_ref(&a)));
        let b2 = ("linux/arm64".to_string(), "3".repeat(64));
        assert_ne!(t, index_tag(&[a, b2]));
    }
}
