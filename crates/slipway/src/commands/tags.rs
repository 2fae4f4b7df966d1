//! werf's custom tags: `--add-custom-tag` (and `$WERF_ADD_CUSTOM_TAG_*`) and
//! `--use-custom-tag`. A tag is checked for every final image before anything is built, then,
//! after the build, pushed to `--repo` as the image's final manifest under that tag. As in
//! werf, an intermediate image (`final: false`) gets none.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use slipway_builder::BuildReport;
use slipway_oci::Reference;
use slipway_werf::WerfConfig;
use slipway_werf::deploy::{slug, slugify};

use crate::cli::BuildArgs;
use crate::settings::Settings;

/// What werf's `%image_content_based_tag%` stands for while tags are checked, before the
/// build has named it (werf checks with 70 characters too).
const CONTENT_TAG_STUB: &str =
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

/// The longest tag a registry takes.
const TAG_MAX: usize = 128;

/// One placeholder of a custom tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Placeholder {
    /// `%image%`: the werf image name.
    Image,
    /// `%image_slug%`: the name slugified.
    ImageSlug,
    /// `%image_safe_slug%`: the name, or its slug with a hash when it is no valid tag.
    ImageSafeSlug,
    /// `%image_content_based_tag%`: the tag the build gave the image.
    ContentBasedTag,
}

/// A piece of a custom tag.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Placeholder(Placeholder),
}

/// One custom tag as given, with where it came from (the flag or the variable).
#[derive(Clone, Debug)]
pub struct TagTemplate {
    /// `--add-custom-tag`, `--use-custom-tag` or `WERF_ADD_CUSTOM_TAG_...`.
    source: String,
    /// The text as given.
    text: String,
    parts: Vec<Part>,
}

impl TagTemplate {
    /// Reads a custom tag: text, and placeholders between `%` signs.
    ///
    /// # Errors
    /// [`crate::BadInput`] for an empty tag, a `%` that is not closed, or a placeholder werf
    /// does not have.
    pub fn parse(source: &str, text: &str) -> Result<TagTemplate> {
        let bad = |why: String| crate::BadInput(format!("{source} `{text}`: {why}"));
        const KNOWN: &str =
            "%image%, %image_slug%, %image_safe_slug% and %image_content_based_tag%";
        if text.is_empty() {
            bail!(bad("the tag is empty".into()));
        }
        let pieces: Vec<&str> = text.split('%').collect();
        if pieces.len().is_multiple_of(2) {
            bail!(bad(format!(
                "a `%` is not closed; the placeholders are {KNOWN}"
            )));
        }
        let mut parts = vec![];
        for (i, piece) in pieces.iter().enumerate() {
            if i % 2 == 0 {
                if !piece.is_empty() {
                    parts.push(Part::Text((*piece).to_string()));
                }
                continue;
            }
            let p = match piece.trim() {
                "image" => Placeholder::Image,
                "image_slug" => Placeholder::ImageSlug,
                "image_safe_slug" => Placeholder::ImageSafeSlug,
                "image_content_based_tag" => Placeholder::ContentBasedTag,
                other => bail!(bad(format!(
                    "there is no placeholder `%{other}%`; the placeholders are {KNOWN}"
                ))),
            };
            parts.push(Part::Placeholder(p));
        }
        Ok(TagTemplate {
            source: source.to_string(),
            text: text.to_string(),
            parts,
        })
    }

    /// The tag for `image`, whose build gave it `content_tag`.
    ///
    /// # Errors
    /// The image name needs a slug and holds letters beyond ASCII.
    fn render(&self, image: &str, content_tag: &str) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Placeholder(Placeholder::Image) => out.push_str(image),
                Part::Placeholder(Placeholder::ImageSlug) => {
                    out.push_str(&slugify(image).map_err(|e| format!("the image name: {e}"))?)
                }
                Part::Placeholder(Placeholder::ImageSafeSlug) => out.push_str(&safe_slug(image)?),
                Part::Placeholder(Placeholder::ContentBasedTag) => out.push_str(content_tag),
            }
        }
        Ok(out)
    }

    /// The tag for `image`, as a bad input naming the flag when it cannot be made.
    fn tag_for(&self, image: &str, content_tag: &str) -> Result<String> {
        let tag = self
            .render(image, content_tag)
            .map_err(|why| crate::BadInput(format!("{} `{}`: {why}", self.source, self.text)))?;
        if !is_valid_tag(&tag) {
            bail!(crate::BadInput(format!(
                "{} `{}` gives image `{image}` the tag `{tag}`, which is not a valid tag: a tag \
                 is at most {TAG_MAX} of A-Z, a-z, 0-9, `_`, `.` and `-`, and does not start with \
                 `.` or `-`",
                self.source, self.text
            )));
        }
        Ok(tag)
    }
}

/// The custom tags of one run: checked for every image before the build, pushed after it.
#[derive(Debug, Default)]
pub struct CustomTags {
    /// `--add-custom-tag` and `$WERF_ADD_CUSTOM_TAG_*`, and `--use-custom-tag`.
    push: Vec<TagTemplate>,
    /// `--use-custom-tag`.
    use_tag: Option<TagTemplate>,
}

impl CustomTags {
    /// Reads the custom tags of the build flags (`$WERF_ADD_CUSTOM_TAG_*` first, in name
    /// order, then `--add-custom-tag`) and `use_custom_tag`, and checks each for every image
    /// the build will report: a valid tag, and a different tag for each image.
    ///
    /// # Errors
    /// [`crate::BadInput`]: a custom tag without `--repo`, a malformed tag, or one tag for
    /// several images.
    pub fn from_flags(
        a: &BuildArgs,
        use_custom_tag: Option<&str>,
        repo: Option<&Reference>,
        config: &WerfConfig,
    ) -> Result<CustomTags> {
        let mut push = vec![];
        for (var, value) in super::build::env_by_prefix("WERF_ADD_CUSTOM_TAG_", &[]) {
            push.push(TagTemplate::parse(&var, &value)?);
        }
        for t in &a.add_custom_tag {
            push.push(TagTemplate::parse("--add-custom-tag", t)?);
        }
        let use_tag = use_custom_tag
            .map(|t| TagTemplate::parse("--use-custom-tag", t))
            .transpose()?;
        push.extend(use_tag.clone());
        if let Some(first) = push.first()
            && repo.is_none()
        {
            bail!(crate::BadInput(format!(
                "{} needs --repo (or WERF_REPO): custom tags are pushed to the repository, and \
                 the local store keeps images by digest only",
                first.source
            )));
        }
        let images = built_images(config, &a.images);
        for t in &push {
            let mut seen: BTreeMap<String, &str> = BTreeMap::new();
            for image in &images {
                let tag = t.tag_for(image, CONTENT_TAG_STUB)?;
                if let Some(other) = seen.insert(tag, image) {
                    let names_image = t.parts.iter().any(|p| {
                        matches!(
                            p,
                            Part::Placeholder(
                                Placeholder::Image
                                    | Placeholder::ImageSlug
                                    | Placeholder::ImageSafeSlug
                            )
                        )
                    });
                    let hint = if names_image {
                        "their slugs are the same: use %image%".to_string()
                    } else if t.source.starts_with("--") {
                        format!("e.g. {} '%image%-{}'", t.source, t.text)
                    } else {
                        format!("e.g. {}='%image%-{}'", t.source, t.text)
                    };
                    bail!(crate::BadInput(format!(
                        "{} `{}` gives images `{other}` and `{image}` the same tag; with more \
                         than one image, the tag must name the image ({hint})",
                        t.source, t.text
                    )));
                }
            }
        }
        Ok(CustomTags { push, use_tag })
    }

    /// Pushes every custom tag of every image the build reports to `repo`: the image's
    /// final manifest, byte for byte, under the tag. A tag that already names that manifest
    /// is left alone. Returns, for `--use-custom-tag`, each image's `REPO:TAG`.
    ///
    /// # Errors
    /// Registry failures, naming the tag.
    pub fn push(
        &self,
        settings: &Settings,
        repo: &Reference,
        report: &BuildReport,
    ) -> Result<BTreeMap<String, String>> {
        if self.push.is_empty() {
            return Ok(BTreeMap::new());
        }
        let registry = super::transfer::registry(settings, repo)?;
        let mut used = BTreeMap::new();
        super::runtime()?.block_on(async {
            for (name, img) in report.images.iter().filter(|(_, img)| img.is_final) {
                let mut tags: Vec<String> = vec![];
                for t in &self.push {
                    let tag = t.tag_for(name, &img.docker_tag)?;
                    if !tags.contains(&tag) {
                        tags.push(tag);
                    }
                }
                if let Some(t) = &self.use_tag {
                    let tag = t.tag_for(name, &img.docker_tag)?;
                    used.insert(name.clone(), format!("{}:{tag}", img.docker_repo));
                }
                let (bytes, content_type, digest) = registry
                    .get_manifest(&repo.repository, &img.docker_image_digest)
                    .await
                    .with_context(|| {
                        format!(
                            "reading {}@{} to tag it",
                            img.docker_repo, img.docker_image_digest
                        )
                    })?;
                let media_type = content_type
                    .or_else(|| {
                        serde_json::from_slice::<serde_json::Value>(&bytes)
                            .ok()?
                            .get("mediaType")?
                            .as_str()
                            .map(str::to_string)
                    })
                    .unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".to_string());
                for tag in tags {
                    let shown = format!("{}:{tag}", img.docker_repo);
                    let now = registry
                        .manifest_digest(&repo.repository, &tag)
                        .await
                        .with_context(|| format!("reading {shown}"))?;
                    if now.as_ref() == Some(&digest) {
                        eprintln!("  {name} {shown} tagged already");
                        continue;
                    }
                    registry
                        .put_manifest(&repo.repository, &tag, &bytes, &media_type)
                        .await
                        .with_context(|| format!("pushing the tag {shown}"))?;
                    eprintln!("  {name} {shown} tagged");
                }
            }
            anyhow::Ok(())
        })?;
        Ok(used)
    }
}

/// The final images the build reports (the ones custom tags are for): every final image of
/// werf.yaml when none is named, else the final ones among the named ones and the images they
/// depend on. (Names werf.yaml lacks are the build's to refuse.)
fn built_images(config: &WerfConfig, wanted: &[String]) -> Vec<String> {
    let is_final = |n: &String| config.image(n).is_some_and(|i| i.is_final);
    if wanted.is_empty() {
        return config
            .images
            .iter()
            .filter(|i| i.is_final)
            .map(|i| i.name.clone())
            .collect();
    }
    let mut keep: Vec<String> = vec![];
    let mut todo: Vec<String> = wanted.to_vec();
    while let Some(n) = todo.pop() {
        if keep.contains(&n) {
            continue;
        }
        if let Some(spec) = config.image(&n) {
            todo.extend(spec.dependencies.iter().map(|d| d.image.clone()));
            keep.push(n);
        }
    }
    keep.retain(is_final);
    keep.sort();
    keep
}

/// Says whether `tag` is a tag registries take (Docker's rule, as references check it).
fn is_valid_tag(tag: &str) -> bool {
    slipway_names::check_tag(tag).is_ok()
}

/// werf's `%image_safe_slug%`: the name when it is a valid tag, else werf's slug of it
/// (cut to fit, a dash and the MurmurHash3 of the name).
fn safe_slug(image: &str) -> Result<String, String> {
    if is_valid_tag(image) {
        return Ok(image.to_string());
    }
    slug(image, TAG_MAX).map_err(|e| format!("the image name: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(text: &str, image: &str) -> String {
        TagTemplate::parse("--add-custom-tag", text)
            .unwrap()
            .render(image, "c0ffee")
            .unwrap()
    }

    #[test]
    fn placeholders_are_werfs() {
        assert_eq!(tag("latest", "app"), "latest");
        assert_eq!(tag("%image%-latest", "app"), "app-latest");
        assert_eq!(tag("% image %-v1", "app"), "app-v1");
        assert_eq!(tag("%image_slug%", "Back_End/API"), "back-end-api");
        assert_eq!(tag("%image_safe_slug%", "Back_End"), "Back_End");
        let hash = format!("{:x}", slipway_werf::deploy::murmur3_32(b"back/end"));
        assert_eq!(
            tag("%image_safe_slug%", "back/end"),
            format!("back-end-{hash}")
        );
        assert_eq!(
            tag("%image%-%image_content_based_tag%", "app"),
            "app-c0ffee"
        );
        let long = "a".repeat(200);
        let safe = tag("%image_safe_slug%", &long);
        assert_eq!(safe.len(), TAG_MAX, "{safe}");
        assert!(is_valid_tag(&safe));
    }

    #[test]
    fn malformed_tags_are_refused_with_the_placeholders() {
        for (text, says) in [
            ("", "empty"),
            ("v1%", "is not closed"),
            ("%img%", "no placeholder `%img%`"),
        ] {
            let e = TagTemplate::parse("--add-custom-tag", text).unwrap_err();
            assert!(e.is::<crate::BadInput>(), "{e}");
            assert!(e.to_string().contains(says), "{e}");
        }
        let t = TagTemplate::parse("--add-custom-tag", "a b").unwrap();
        let e = t.tag_for("app", "x").unwrap_err();
        assert!(e.to_string().contains("not a valid tag"), "{e}");
    }

    #[test]
    fn envfile_names_follow_werf() {
        use super::super::build::envfile_variable;
        assert_eq!(envfile_variable("app"), "WERF_APP_DOCKER_IMAGE_NAME");
        assert_eq!(
            envfile_variable("dev/app-frontend.v2"),
            "WERF_DEV_APP_FRONTEND_V2_DOCKER_IMAGE_NAME"
        );
        assert_eq!(envfile_variable("a b+c"), "WERF_A_B_C_DOCKER_IMAGE_NAME");
    }
}
