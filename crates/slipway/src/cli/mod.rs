//! The command-line surface: clap types only, no logic.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use slipway_trust::RegistryHost;

const ABOUT: &str =
    "Build, push and deploy through a private registry that every stage trusts on purpose.";

const LONG_ABOUT: &str = "\
slipway takes an application from source to running pods through a private container
registry whose certificate is self-signed or issued by an internal CA. Instead of
switching verification off, it makes each stage trust the registry on purpose.

Trust is resolved per registry host, from the first source that has something for it:
  1. flags: --registry-ca, --registry-client-cert, --registry-skip-verify, --registry-plain-http
     (and werf's --skip-tls-verify-registry / --insecure-registry, which warn)
  2. --registries-config FILE (k3s registries.yaml format)
  3. certs.d folders: /etc/containers/certs.d/HOST[:PORT]/, then /etc/docker/certs.d/HOST[:PORT]/
  4. SSL_CERT_FILE / SSL_CERT_DIR
  5. the system CA bundle
A certificate given as a host's CA may be the server's own self-signed certificate
(`openssl req -x509`); slipway pins it for that host only.

A flag that names a host without a port (registry.internal) applies to every port of it
(registry.internal:5000 too), unless a flag names that exact HOST:PORT. A relaxation
that reaches a port this way says so, naming the port.";

/// Parses the command line.
#[derive(Debug, Parser)]
#[command(name = "slipway", version, about = ABOUT, long_about = LONG_ABOUT, propagate_version = true)]
pub struct Cli {
    /// Trust and output settings shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Holds the flags every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Trust the CA certificates in FILE for registry HOST[:PORT] (a HOST without a port:
    /// every port of it). FILE may also be the server's own self-signed certificate.
    /// Repeatable.
    #[arg(long = "registry-ca", value_name = "HOST=FILE", global = true, value_parser = parse_host_file, help_heading = "Registry trust (every command)")]
    pub registry_ca: Vec<HostFile>,

    /// Present the client certificate CERT with key KEY to registry HOST (mTLS). Repeatable.
    #[arg(long = "registry-client-cert", value_name = "HOST=CERT,KEY", global = true, value_parser = parse_host_pair, help_heading = "Registry trust (every command)")]
    pub registry_client_cert: Vec<HostPair>,

    /// DANGEROUS: do not verify the certificate of registry HOST[:PORT] (a HOST without a
    /// port: every port of it). Announced on every run, naming the port.
    #[arg(
        long = "registry-skip-verify",
        value_name = "HOST",
        global = true,
        help_heading = "Registry trust (every command)"
    )]
    pub registry_skip_verify: Vec<RegistryHost>,

    /// DANGEROUS: speak plain HTTP to registry HOST[:PORT] (a HOST without a port: every
    /// port of it). Announced on every run, naming the port.
    #[arg(
        long = "registry-plain-http",
        value_name = "HOST",
        global = true,
        help_heading = "Registry trust (every command)"
    )]
    pub registry_plain_http: Vec<RegistryHost>,

    /// Read per-registry TLS settings from a k3s-format registries.yaml
    /// (configs.HOST.tls.{ca_file,cert_file,key_file,insecure_skip_verify}).
    #[arg(
        long = "registries-config",
        value_name = "FILE",
        env = "SLIPWAY_REGISTRIES_CONFIG",
        global = true,
        help_heading = "Registry trust (every command)"
    )]
    pub registries_config: Option<PathBuf>,

    /// certs.d roots to search for HOST[:PORT]/ folders, in order (colon-separated in the
    /// env var) [default: /etc/containers/certs.d:/etc/docker/certs.d]
    #[arg(
        long = "certs-d",
        value_name = "DIR",
        env = "SLIPWAY_CERTS_D",
        value_delimiter = ':',
        global = true,
        help_heading = "Registry trust (every command)"
    )]
    pub certs_d: Vec<PathBuf>,

    /// werf compatibility, DANGEROUS: skip certificate verification for every registry.
    /// Prefer --registry-ca HOST=FILE. Warns, naming each host it weakens.
    #[arg(
        long = "skip-tls-verify-registry",
        env = "WERF_SKIP_TLS_VERIFY_REGISTRY",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new(),
        global = true,
        help_heading = "Registry trust (every command)"
    )]
    pub skip_tls_verify_registry: Option<bool>,

    /// werf compatibility, DANGEROUS: allow plain HTTP for every registry whose port speaks
    /// HTTP (HTTPS is tried first). Warns, naming each host it affects.
    #[arg(
        long = "insecure-registry",
        env = "WERF_INSECURE_REGISTRY",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new(),
        global = true,
        help_heading = "Registry trust (every command)"
    )]
    pub insecure_registry: Option<bool>,

    /// werf compatibility: the repository images are stored in (HOST[:PORT]/PATH).
    #[arg(
        long = "repo",
        value_name = "REPO",
        env = "WERF_REPO",
        global = true,
        help_heading = "Global options"
    )]
    pub repo: Option<String>,

    /// Output format: human-readable text, or one JSON object on stdout.
    #[arg(long = "output", short = 'o', value_enum, default_value_t = Output::Human, env = "SLIPWAY_OUTPUT", global = true, help_heading = "Global options")]
    pub output: Output,
}

/// Chooses how results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Text for people.
    Human,
    /// One JSON object, for scripts.
    Json,
}

/// Lists the commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Talk to registries: check how this machine connects to them.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Copy an image between registries and OCI layouts (oci:PATH[:TAG]).
    ///
    /// Blobs stream from source to destination with their digests verified, several at a
    /// time; blobs the destination has are skipped, and blobs in another repository of the
    /// same registry are mounted. The manifest is written only after all its blobs.
    #[command(after_help = "\
Examples:
  slipway copy oci:./build:v1 registry.internal:5000/app:v1
  slipway copy registry.internal:5000/app:v1 oci:/tmp/app:v1 --platform linux/amd64
  slipway copy docker://registry-a:5000/app:v1 registry-b:5000/app:v1")]
    Copy(CopyArgs),
    /// Mirror many images into a registry (or OCI layouts) in one run.
    ///
    /// Sources are HOST/REPO (every tag, or those --tag-regex and --tag-semver pick),
    /// HOST/REPO:TAG and HOST/REPO@DIGEST, on the command line or in --from-file lists. The
    /// destination is HOST[/PREFIX], where each source repository keeps its path without its
    /// host under PREFIX, or oci:DIR, with one OCI layout per repository at DIR/REPO.
    ///
    /// The whole run is read first. Then each distinct blob crosses once, however many
    /// images share it: blobs the destination has are skipped, and blobs another of the
    /// run's destination repositories holds are mounted from it. --jobs bounds the blobs in
    /// flight for the whole run. Each image's manifests are written last, once all its blobs
    /// are in place, and an image the destination already has under the same digest is left
    /// alone. A failed image does not stop the others; the exit code is 0 only when every
    /// image made it, 3 when any failed.
    #[command(after_help = "\
Examples:
  slipway sync docker.io/library/alpine:3.20 quay.io/team/app registry.internal:5000/mirror
  slipway sync registry-a:5000/team/app --tag-semver '>= 1.4, < 2' registry-b:5000
  slipway sync --from-file images.yaml --dry-run registry.internal:5000
  slipway sync registry.internal:5000/team/app oci:/srv/offline

A list file (--from-file) reads like skopeo sync's YAML source:
  registry-a:5000:
    images:
      team/app: []              # every tag
      team/base: [\"1.0\", \"1.1\"]
    images-by-tag-regex:
      team/web: ^v1\\.
    images-by-semver:
      team/api: \">= 1.2.0\"
Its cert-dir, credentials and tls-verify: false are refused: trust comes from
--registry-ca and --certs-d, and credentials from `slipway login`, as for every command.")]
    Sync(SyncArgs),
    /// Show an image's manifest digest, media type, platforms, layers and config.
    Inspect(InspectArgs),
    /// List a repository's tags (registry REPO or oci:PATH).
    Tags(TagsArgs),
    /// Check credentials against a registry and store them as docker does.
    ///
    /// Stores in the credential helper docker's config.json names for the host
    /// (credHelpers/credsStore), else in config.json's auths ($DOCKER_CONFIG or ~/.docker),
    /// keeping every other setting. The password is read from stdin.
    #[command(
        after_help = "Example:\n  echo \"$TOKEN\" | slipway login registry.internal:5000 -u ci --password-stdin"
    )]
    Login(LoginArgs),
    /// Build the images of werf.yaml into content-addressed stages (in --repo, or a local store).
    ///
    /// Each Dockerfile stage is tagged by a digest of its inputs: its normalized
    /// instructions, the resolved manifest digest of its base image, the build args it
    /// declares, the content and metadata of the context files its COPY/ADD take, and the
    /// stages it builds on. A stage already in --repo (or, without --repo, in the local
    /// store) is neither rebuilt nor pushed. Base images are pulled, and stages pushed,
    /// through the per-registry trust flags. Stages without RUN are built natively
    /// (reproducible layers); stages with RUN use `buildah build --isolation chroot`.
    #[command(after_help = "\
Examples:
  slipway build                                   # ./werf.yaml into the local store
  slipway build --repo registry.internal:5000/app --registry-ca registry.internal:5000=ca.crt
  slipway build --dir examples/hello --report-path report.json app
  WERF_REPO=registry.internal:5000/app slipway build --compression zstd
  slipway build --repo registry.internal:5000/app --add-custom-tag '%image%-latest' \\
      --report-path images.env --report-format envfile     # then: . images.env

Supported werf.yaml keys: project, configVersion (1), build.cacheVersion, build.platform,
build.imageSpec (author, clearHistory, config.labels/removeLabels/keepEssentialWerfLabels;
final images only), deploy (helmChartDir, helmRelease, helmReleaseSlug, namespace, namespaceSlug,
helmChartConfig.appVersion or appVersion: the chart's .Chart.AppVersion; used by render and
converge), and per image document: image, dockerfile, context, contextAddFiles (or
contextAddFile; checked to exist in the context), target, args, addHost (buildah
--add-host for RUN), network (host or default; RUN runs on the build machine's network),
cacheVersion (in every stage digest; overrides build.cacheVersion), dependencies (image,
imports: type ImageName | ImageDigest | ImageRepo | ImageTag | ImageID, targetBuildArg),
secrets (env, src or value, with id; buildah --secret for RUN --mount=type=secret, never
in a layer, a digest or the output) and ssh (default, SOCKET or ID=SOCKET; buildah --ssh
for RUN --mount=type=ssh), final (false: built and reported with Final false, but no
custom tags and not in render's images) and imageSpec (author, clearHistory, config: labels,
removeLabels, env, removeEnv, volumes, removeVolumes, expose, user, cmd, entrypoint,
workingDir, stopSignal, healthcheck, clear*; a new config on the last stage's layers,
tagged by a digest of the stage and the edit). cleanup and gitWorktree are read and
announced as unused. platform (and build.platform, the default for every image; --platform
overrides both): the platforms to build for, an image index when more than one. staged (and
build.staged, the default for every image) builds the same image and is announced: the cache
is kept per Dockerfile stage, not per instruction. Stapel keys, targetEnv and the other
build.* keys are refused with a message saying what to write instead.

werf.yaml is first rendered as werf renders it: Go templates with sprig's functions and
werf's (env NAME [DEFAULT], include, tpl, required, fromYaml, .Files.Get/Glob/Exists/IsDir,
.Env), with every .werf/**/*.tmpl file parsed into the same set. Files and variables are
read as they are, committed or not (werf's --loose-giterminism). .Commit needs git and is
refused; a template error exits 2 naming the file and line.")]
    Build(BuildArgs),
    /// Build, then print the Kubernetes manifests with every werf image pinned to its digest.
    ///
    /// Builds exactly as `slipway build` does (same flags; stages already in --repo are
    /// neither rebuilt nor pushed), then reads the manifests: every *.yaml and *.yml file
    /// under DIR/.helm/templates/ (werf's layout) or --manifests, recursively, in name
    /// order; names starting with `_` or `.` are skipped. Image references become
    /// REPO@sha256:DIGEST, the digest the build produced (with --use-custom-tag TAG,
    /// REPO:TAG, a tag pushed after the build):
    ///   {{ .Values.werf.image.NAME }}               werf's form; also {{.Values.werf.image.NAME}},
    ///   {{ $.Values.werf.image.NAME }}              and quoted: image: "{{ .Values.werf.image.NAME }}"
    ///   {{ index .Values.werf.image "NAME" }}       for names with dashes
    ///   image: NAME                                 a bare werf image name, in containers,
    ///                                               initContainers and ephemeralContainers only
    /// Any other {{ ... }} (.Values.x, include, if, range, .Release, {{- -}}) is refused:
    /// slipway does not run Helm. Render such a chart with `helm template` first. For the
    /// same reason werf's --values, --set, --set-string, --set-file and --secret-values
    /// are refused (exit 2).
    ///
    /// Output: one YAML document per object, each after `---` and `# Source: FILE`.
    /// Documents are parsed and written again, so comments and formatting are not kept;
    /// empty documents are dropped and `kind: List` is expanded. With --output json:
    /// {"manifests": [objects...], "images": {NAME: "REPO@sha256:..."}}.
    ///
    /// --repo is required: nodes pull from a registry, never from the local store.
    /// Manifests are checked before anything is built.
    #[command(
        verbatim_doc_comment,
        after_help = "\
Examples:
  slipway render --repo registry.internal:5000/app > manifests.yaml
  slipway --registry-ca registry.internal:5000=ca.crt render --dir examples/hello \\
      --repo registry.internal:5000/hello --out manifests.yaml
  slipway render --repo registry.internal:5000/app --manifests deploy/ | kubectl apply -f -
  slipway --output json render --repo registry.internal:5000/app | jq -r '.images.app'

Exit codes: 0 rendered; 2 bad input (werf.yaml, Dockerfile, manifests, templating, an
unknown image name, no --repo, no manifests folder, a bad custom tag, a werf flag slipway
refuses); 3 a failure while building, pushing or writing."
    )]
    Render(Box<RenderArgs>),
    /// Build, push, make the nodes trust the registry, deploy, and follow the rollout.
    ///
    /// In order: `build` (stages to --repo); when --repo's registry is trusted through a
    /// private CA or a pinned certificate, `cluster trust apply` with that certificate (the
    /// nodes must trust what they pull from); `render`; server-side apply of the manifests
    /// (field manager slipway, namespaces and config first, workloads last); then tracking
    /// of every Deployment, StatefulSet, DaemonSet and Job until ready. A pod that cannot
    /// pull its image stops the run at once with the node, the registry, the cause in words
    /// and the fix (the cluster trust apply command, or the build-side flag).
    #[command(after_help = "\
Examples:
  slipway --registry-ca registry.internal:5000=ca.crt converge --repo registry.internal:5000/app \\
      --agent-image ghcr.io/example/slipway:0.1 --namespace app
  slipway converge --repo registry.internal:5000/app --skip-cluster-trust --kube-context prod
  WERF_KUBE_CONFIG=ci.kubeconfig slipway converge --repo registry.internal:5000/app \\
      --skip-cluster-trust --use-custom-tag '%image%-%image_content_based_tag%'

Exit codes: 0 every workload ready; 2 bad input (werf.yaml, Dockerfile, manifests, a
private-CA registry without --agent-image, a kubeconfig or context that cannot be used, a
bad custom tag, a werf flag slipway refuses);
3 a failure while working: a pull that cannot recover, a failed Job, a timeout.")]
    Converge(Box<ConvergeArgs>),
    /// Check one registry from both sides: this machine (the probe) and the cluster.
    ///
    /// The build side connects with this machine's trust for the registry and names what
    /// happens (as `registry probe`). The cluster side reads the trust DaemonSet per node,
    /// lists the nodes without a ready trust agent, and classifies recent pull-failure
    /// events that name the registry. --explain classifies a pull error you paste (from
    /// `kubectl describe pod`), without a registry or a cluster.
    #[command(after_help = "\
Examples:
  slipway --registry-ca registry.internal:5000=ca.crt doctor --registry registry.internal:5000
  slipway doctor --registry registry.internal:5000 --no-cluster
  slipway doctor --explain 'Failed to pull image \"r.internal:5000/app:1\": ... x509: certificate signed by unknown authority'

Exit codes: 0 nothing wrong; 1 a problem was found (it is named, with its fix); 2 bad
input.")]
    Doctor(DoctorArgs),
    /// Work with Helm charts natively, without helm installed.
    #[command(subcommand)]
    Chart(ChartCommand),
    /// Make every node of a cluster trust registries (a DaemonSet running `node trust`).
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Make this node's container runtimes (and OS) trust a registry.
    #[command(subcommand)]
    Node(NodeCommand),
    /// Run an internal PKI for the registry: CA, certificates, expiry checks, rotation.
    #[command(subcommand)]
    Pki(PkiCommand),
}

/// Chooses who builds stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// Per stage: buildah for a stage with RUN (or an ADD of bzip2/xz), native for the rest.
    Auto,
    /// slipway itself: every instruction except RUN.
    Native,
    /// `buildah build --isolation chroot` (Debian package buildah) for every stage.
    Buildah,
}

/// Chooses the layer compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompressionArg {
    /// gzip: every runtime reads it.
    Gzip,
    /// zstd: containerd 1.5+ and Docker Engine 23+.
    Zstd,
}

/// Holds `build` arguments.
#[derive(Clone, Debug, Args)]
pub struct BuildArgs {
    /// Images to build (with the images they depend on); all when none are given.
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,
    /// The project folder (werf's --dir).
    #[arg(long, value_name = "DIR", env = "WERF_DIR", default_value = ".")]
    pub dir: PathBuf,
    /// The werf.yaml to read [default: DIR/werf.yaml].
    #[arg(long, value_name = "FILE", env = "WERF_CONFIG")]
    pub config: Option<PathBuf>,
    /// Who builds: auto picks buildah only for the stages with RUN.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    pub backend: BackendArg,
    /// Layer compression.
    #[arg(long, value_enum, default_value_t = CompressionArg::Gzip)]
    pub compression: CompressionArg,
    /// Compression level [default: 1 for gzip, 3 for zstd].
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub compression_level: Option<i32>,
    /// Keep the context files' modification times in layers (the default is the epoch,
    /// so the same content gives the same digests anywhere).
    #[arg(long)]
    pub keep_mtimes: bool,
    /// The local store: an OCI image layout with stages, pulled bases and extracted file
    /// systems [default: $XDG_DATA_HOME/slipway/store, or ~/.local/share/slipway/store].
    #[arg(long, value_name = "DIR", env = "SLIPWAY_STORE")]
    pub store: Option<PathBuf>,
    /// Write the build report to this file, in --report-format.
    #[arg(long, value_name = "FILE", env = "WERF_REPORT_PATH")]
    pub report_path: Option<PathBuf>,
    /// The format of --report-path: `json` (werf's keys), or `envfile`: one
    /// WERF_<IMAGE>_DOCKER_IMAGE_NAME=REPO:TAG line per image, IMAGE being the image name
    /// upper-cased with each character but letters and digits turned into _ (as werf turns
    /// / - and . into _).
    #[arg(
        long = "report-format",
        value_enum,
        value_name = "FORMAT",
        default_value_t = ReportFormat::Json,
        env = "WERF_REPORT_FORMAT"
    )]
    pub report_format: ReportFormat,
    /// After the build, also tag each image's final manifest in --repo with TAG. It may hold
    /// %image%, %image_slug%, %image_safe_slug% (the werf image name, as it is, slugged, or
    /// slugged only when it is no valid tag) and %image_content_based_tag% (the tag the build
    /// gave it); with more than one image it must name the image. Repeatable; also
    /// $WERF_ADD_CUSTOM_TAG_* (e.g. WERF_ADD_CUSTOM_TAG_1=%image%-latest). Needs --repo.
    #[arg(long = "add-custom-tag", value_name = "TAG")]
    pub add_custom_tag: Vec<String>,
    /// The platforms to build every image for, over werf.yaml's `platform` and
    /// `build.platform` [default: those, else this machine's]. A comma-separated list (or
    /// the flag repeated) builds each image for each platform and publishes an image index;
    /// bases are picked for each platform. RUN is built only for platforms this machine runs
    /// (natively, or with a QEMU binfmt_misc emulator); other images need no emulator.
    #[arg(
        long,
        value_name = "OS/ARCH[/VARIANT]",
        env = "WERF_PLATFORM",
        value_delimiter = ','
    )]
    pub platform: Vec<String>,
    /// Also publish each final image (its last stage, with every platform) to REPO under
    /// the same tag after the build; the report, .Values.werf.image and .Values.werf.repo
    /// then name REPO, and custom tags go there. Stages stay in --repo only; intermediate
    /// images (`final: false`) are not published. Needs --repo. An empty value is none.
    #[arg(long = "final-repo", value_name = "REPO", env = "WERF_FINAL_REPO")]
    pub final_repo: Option<String>,
    /// A read-only repository of stages (another installation's --repo): a stage missing
    /// from --repo and found here is copied into --repo instead of being built; nothing is
    /// written here. Repeatable, looked at in order; also $WERF_SECONDARY_REPO_* (in name
    /// order, before the flags). Needs --repo.
    #[arg(long = "secondary-repo", value_name = "REPO")]
    pub secondary_repo: Vec<String>,
    /// A cache repository of stages: a stage missing from --repo and found here is copied
    /// into --repo instead of being built; every stage pushed to --repo is pushed here too,
    /// and a stage pulled to build on comes from here when it is here. Safe to delete at
    /// any time. Repeatable, looked at in order, before the secondary repositories; also
    /// $WERF_CACHE_REPO_* (in name order, before the flags). Needs --repo.
    #[arg(long = "cache-repo", value_name = "REPO")]
    pub cache_repo: Vec<String>,
    /// werf's build flags that slipway refuses.
    #[command(flatten)]
    pub refused: RefusedBuildArgs,
}

/// The heading of the werf flags slipway refuses, in --help.
const REFUSED: &str = "werf flags slipway refuses (exit 2, saying why)";

/// Chooses the format of the build report file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// werf's JSON report (the same object as --output json).
    Json,
    /// werf's env file: WERF_<IMAGE>_DOCKER_IMAGE_NAME=REPO:TAG, one line per image.
    Envfile,
}

/// Holds werf's build flags that slipway cannot honour. They are refused when given (exit
/// 2, with the reason and what to do), never ignored; `--dev=false` is not refused.
#[derive(Clone, Debug, Default, Args)]
pub struct RefusedBuildArgs {
    /// werf's development mode. slipway always builds the files in --dir as they are,
    /// committed or not.
    #[arg(
        long = "dev",
        env = "WERF_DEV",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new(),
        help_heading = REFUSED
    )]
    pub dev: Option<bool>,
}

/// Holds werf's deploy flags that `render` and `converge` share.
#[derive(Clone, Debug, Default, Args)]
pub struct DeployArgs {
    /// Reference each werf image as REPO:TAG instead of REPO@sha256:DIGEST, and push TAG to
    /// --repo after the build. The same placeholders as --add-custom-tag. A tag can be moved
    /// later; a digest cannot, so prefer the digest.
    #[arg(
        long = "use-custom-tag",
        value_name = "TAG",
        env = "WERF_USE_CUSTOM_TAG"
    )]
    pub use_custom_tag: Option<String>,
    /// A values file for the chart, over .helm/values.yaml; later files win. Repeatable.
    #[arg(long = "values", value_name = "FILE")]
    pub values: Vec<String>,
    /// Set a chart value: a.b=1,c[0]=x (Helm's --set rules). Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Set a chart value as a string. Repeatable.
    #[arg(long = "set-string", value_name = "KEY=VALUE")]
    pub set_string: Vec<String>,
    /// Set a chart value from a file's text. Repeatable.
    #[arg(long = "set-file", value_name = "KEY=PATH")]
    pub set_file: Vec<String>,
    /// werf's encrypted values files ($WERF_SECRET_VALUES_* too). werf's encryption is not
    /// implemented in slipway.
    #[arg(long = "secret-values", value_name = "FILE", help_heading = REFUSED)]
    pub secret_values: Vec<String>,
}

/// Holds the kubeconfig flags of `converge` and `doctor`.
#[derive(Clone, Debug, Default, Args)]
pub struct KubeconfigArgs {
    /// The kubeconfig file [default: $WERF_KUBE_CONFIG, else $WERF_KUBECONFIG, else
    /// $KUBECONFIG, else ~/.kube/config].
    #[arg(long = "kube-config", value_name = "FILE", env = "WERF_KUBE_CONFIG")]
    pub kube_config: Option<PathBuf>,
    /// The kubeconfig context [default: the current one].
    #[arg(long = "kube-context", value_name = "NAME", env = "WERF_KUBE_CONTEXT")]
    pub kube_context: Option<String>,
}

/// Holds `render` arguments: the build flags, and where manifests come from and go.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The build flags, as `slipway build` takes them.
    #[command(flatten)]
    pub build: BuildArgs,
    /// The folder of manifests to render [default: DIR/.helm/templates, or werf.yaml's
    /// deploy.helmChartDir with /templates].
    #[arg(long, value_name = "DIR")]
    pub manifests: Option<PathBuf>,
    /// Write the result to FILE (atomically: a temp file, then a rename) instead of
    /// stdout; `-` is stdout.
    #[arg(long, value_name = "FILE|-")]
    pub out: Option<PathBuf>,
    /// werf's deploy flags.
    #[command(flatten)]
    pub deploy: DeployArgs,
    /// werf's release and namespace flags: checked as converge checks them; the manifests
    /// are not templated yet, so they do not change the output.
    #[command(flatten)]
    pub target: RenderTargetArgs,
}

/// Holds the flags werf's `render` takes for the release it renders, which slipway's
/// render checks but does not need.
#[derive(Clone, Debug, Default, Args)]
pub struct RenderTargetArgs {
    /// The namespace werf would render for (checked as converge checks it).
    #[arg(long, short = 'n', value_name = "NAME", env = "WERF_NAMESPACE")]
    pub namespace: Option<String>,
    /// The release werf would render (checked as converge checks it).
    #[arg(long, value_name = "NAME", env = "WERF_RELEASE")]
    pub release: Option<String>,
    /// The environment (werf's --env), for the default release and namespace.
    #[arg(long, value_name = "ENV", env = "WERF_ENV")]
    pub env: Option<String>,
    /// The kubeconfig and its context: render does not contact the cluster, so these
    /// are accepted for werf's command lines and not read.
    #[command(flatten)]
    pub kube: KubeconfigArgs,
}

/// Holds `converge` arguments.
#[derive(Debug, Args)]
pub struct ConvergeArgs {
    /// The build flags, as `slipway build` takes them.
    #[command(flatten)]
    pub build: BuildArgs,
    /// The folder of manifests [default: DIR/.helm/templates, or werf.yaml's
    /// deploy.helmChartDir with /templates].
    #[arg(long, value_name = "DIR")]
    pub manifests: Option<PathBuf>,
    /// The namespace for objects that name none, created when missing, as werf chooses it
    /// [default: werf.yaml's deploy.namespace, else PROJECT-ENV, else PROJECT; slugged by
    /// werf's rules unless deploy.namespaceSlug is false]. A namespace given here is checked,
    /// never slugged.
    #[arg(long, short = 'n', value_name = "NAME", env = "WERF_NAMESPACE")]
    pub namespace: Option<String>,
    /// The environment (werf's --env): part of the default release and namespace
    /// (PROJECT-ENV) and of deploy templates (`[[ env ]]`).
    #[arg(long, value_name = "ENV", env = "WERF_ENV")]
    pub env: Option<String>,
    /// The kubeconfig and its context.
    #[command(flatten)]
    pub kube: KubeconfigArgs,
    /// werf's deploy flags, as `render` takes them.
    #[command(flatten)]
    pub deploy: DeployArgs,
    /// How long to wait for the trust agent and for every workload.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// The trust agent's image, needed when the registry has a private CA. It must come from
    /// a registry the nodes already trust. As a CI variable, it lets a werf job's command
    /// line run unchanged.
    #[arg(long = "agent-image", value_name = "IMAGE", value_parser = parse_image, env = "SLIPWAY_AGENT_IMAGE")]
    pub agent_image: Option<String>,
    /// Do not run `cluster trust apply` (the nodes already trust the registry).
    #[arg(long = "skip-cluster-trust")]
    pub skip_cluster_trust: bool,
    /// The trust agent's namespace.
    #[arg(
        long = "trust-namespace",
        value_name = "NAME",
        default_value = "slipway-system",
        env = "SLIPWAY_TRUST_NAMESPACE"
    )]
    pub trust_namespace: String,
    /// Runtimes the trust agent configures on each node.
    #[arg(long, value_enum, default_value_t = RuntimeArg::Auto)]
    pub runtime: RuntimeArg,
    /// Also configure each node's OS trust store.
    #[arg(long = "system-store")]
    pub system_store: bool,
    /// The trust agent reaches the API server at this URL (https://HOST[:PORT]) instead of
    /// the `kubernetes` Service (see `cluster trust apply --help`).
    #[arg(long = "agent-api-server", value_name = "URL", value_parser = parse_api_server, env = "SLIPWAY_AGENT_API_SERVER")]
    pub agent_api_server: Option<slipway_kube::ApiServer>,
    /// The release: what this converge owns. Its objects are recorded in ConfigMap
    /// slipway-release-NAME, and those a later converge no longer has are deleted
    /// [default: werf.yaml's deploy.helmRelease, else PROJECT-ENV, else PROJECT; slugged by
    /// werf's rules unless deploy.helmReleaseSlug is false].
    #[arg(long, value_name = "NAME", env = "WERF_RELEASE")]
    pub release: Option<String>,
    /// Keep the objects that an earlier converge of the release applied and this one does
    /// not; they stay recorded, so a later converge without this flag deletes them.
    #[arg(long = "no-prune")]
    pub no_prune: bool,
    /// Time between reads of the API when it cannot be watched.
    #[arg(long = "poll-interval", value_name = "DURATION", default_value = "2s", value_parser = parse_duration, hide = true)]
    pub poll_interval: Duration,
}

/// Holds `doctor` arguments.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The registry, as HOST[:PORT], exactly as image references name it.
    #[arg(long, value_name = "HOST[:PORT]", required_unless_present = "explain")]
    pub registry: Option<RegistryHost>,
    /// Classify this pull error (an event or container status message) and print its fix.
    #[arg(long, value_name = "MESSAGE")]
    pub explain: Option<String>,
    /// Skip the cluster side.
    #[arg(long = "no-cluster")]
    pub no_cluster: bool,
    /// The kubeconfig and its context.
    #[command(flatten)]
    pub kube: KubeconfigArgs,
    /// The trust agent's namespace.
    #[arg(
        long = "trust-namespace",
        value_name = "NAME",
        default_value = "slipway-system"
    )]
    pub trust_namespace: String,
    /// Time allowed for the probe to connect and for each read.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// Holds `copy` arguments.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Source: oci:PATH[:TAG], or a registry reference (docker:// optional).
    #[arg(value_name = "SRC")]
    pub src: String,
    /// Destination: oci:PATH[:TAG], or a registry reference.
    #[arg(value_name = "DST")]
    pub dst: String,
    /// Copy only this platform of a multi-platform image (os/arch[/variant]).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Blobs in flight at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub jobs: usize,
}

/// Holds `sync` arguments.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The sources, then the destination (HOST[/PREFIX] or oci:DIR). With --from-file the
    /// destination alone is enough.
    #[arg(value_name = "SRC... DST", required = true, num_args = 1..)]
    pub refs: Vec<String>,
    /// Read more sources from a YAML list (may be repeated).
    #[arg(long = "from-file", value_name = "LIST.yaml")]
    pub from_file: Vec<std::path::PathBuf>,
    /// Take only the tags this regular expression matches (unanchored, as skopeo reads
    /// it), for sources without a tag.
    #[arg(long = "tag-regex", value_name = "REGEX")]
    pub tag_regex: Option<String>,
    /// Take only the tags in this semantic-version range (`>= 1.2, < 2`, `~1.4`, `^2`,
    /// `1.x`), for sources without a tag. Tags that are not versions are left out.
    #[arg(long = "tag-semver", value_name = "RANGE")]
    pub tag_semver: Option<String>,
    /// List what would be copied, and write nothing.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Blobs in flight at once, for the whole run.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub jobs: usize,
}

/// Holds `inspect` arguments.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The image: oci:PATH[:TAG], or a registry reference.
    #[arg(value_name = "REF")]
    pub reference: String,
    /// For a multi-platform image, show this platform's manifest and config.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
}

/// Lists the `chart` subcommands.
#[derive(Debug, Subcommand)]
pub enum ChartCommand {
    /// Render a chart's templates locally: what `helm template NAME CHART` prints.
    ///
    /// The chart (a folder or a .tgz) is loaded as Helm loads it (.helmignore, subcharts
    /// under charts/ as folders or archives, requirements.yaml for apiVersion v1 charts),
    /// values are merged as Helm merges them (values.yaml, then each -f file, then
    /// --set-json, --set, --set-string, --set-file and --set-literal), dependencies are
    /// enabled by their condition and tags, import-values are applied, values.schema.json
    /// is checked, and every template is run with Go's template language, sprig's
    /// functions and Helm's own (include, tpl, required, fail, lookup, toYaml, fromYaml,
    /// toJson, toToml, .Files, .Capabilities). Output: each document after `---` and a
    /// `# Source: CHART/templates/FILE` line, in Helm's install order, hooks last; CRDs
    /// from crds/ first with --include-crds; NOTES.txt is never printed. With --output
    /// json: {"manifests": [{"source", "kind", "name", "object"}...], "hooks": [...]}.
    ///
    /// Nothing is built and no cluster is contacted: `lookup` returns an empty map, as in
    /// `helm template`. A function or construct slipway does not do (sprig's random and
    /// key-generating functions, Go's complex numbers) exits 2 naming it and the file and
    /// line where it is used; the output is never silently different from Helm's.
    ///
    /// A dependency the chart lists but does not have under charts/ is pulled when its
    /// repository is oci://HOST[:PORT]/PATH: through the same per-registry trust and
    /// credentials as `copy` (--registry-ca, --certs-d, --registries-config, pinned
    /// certificates, docker/podman logins), at the version Chart.lock locks, else the
    /// version given, else the highest version tag the range accepts (`+` travels as `_`
    /// in tags). It is kept in memory: nothing is written, to the chart or anywhere else;
    /// each pull is announced on stderr. A missing dependency from anywhere else
    /// (https://, file://, no repository) is an error, as in `helm template`.
    #[command(after_help = "\
Examples:
  slipway chart render ./charts/web
  slipway chart render ./charts/web --release web --namespace prod -f prod.yaml --set replicas=3
  slipway chart render web-1.2.0.tgz --kube-version 1.30.0 --api-versions monitoring.coreos.com/v1
  slipway chart render ./charts/web --show-only templates/deployment.yaml
  slipway chart render ./charts/web --registry-ca registry.internal:5000=ca.crt   # oci:// dependencies

Exit codes: 0 rendered; 2 bad input (a chart, values file or --set that Helm would refuse,
a template error, a schema violation, something slipway does not support, a dependency
version the registry does not have, an out-of-date Chart.lock); 3 a failure while pulling
a dependency (an untrusted certificate, the network, a digest mismatch) or writing.")]
    Render(ChartRenderArgs),
}

/// Holds `chart render` arguments.
#[derive(Debug, Args)]
pub struct ChartRenderArgs {
    /// The chart: a folder with Chart.yaml, or a .tgz archive.
    #[arg(value_name = "CHART")]
    pub chart: std::path::PathBuf,
    /// The release name (`.Release.Name`).
    #[arg(long, value_name = "NAME", default_value = "release-name")]
    pub release: String,
    /// The namespace (`.Release.Namespace`).
    #[arg(long, short = 'n', value_name = "NS", default_value = "default")]
    pub namespace: String,
    /// A values file (YAML); later files override earlier ones. Repeatable.
    #[arg(long = "values", short = 'f', value_name = "FILE")]
    pub values: Vec<std::path::PathBuf>,
    /// Set values: a.b=1,c[0]=x (Helm's --set rules: numbers, bools and null are typed).
    #[arg(long = "set", value_name = "K=V")]
    pub set: Vec<String>,
    /// Set string values (never typed).
    #[arg(long = "set-string", value_name = "K=V")]
    pub set_string: Vec<String>,
    /// Set JSON values: a={"x":1}.
    #[arg(long = "set-json", value_name = "K=JSON")]
    pub set_json: Vec<String>,
    /// Set values from files: key=PATH reads PATH as the value.
    #[arg(long = "set-file", value_name = "K=PATH")]
    pub set_file: Vec<String>,
    /// Set one literal string value (no commas or dots are special in the value).
    #[arg(long = "set-literal", value_name = "K=V")]
    pub set_literal: Vec<String>,
    /// The Kubernetes version templates see (`.Capabilities.KubeVersion`); Helm's default
    /// is v1.37.0.
    #[arg(long = "kube-version", value_name = "VERSION")]
    pub kube_version: Option<String>,
    /// Extra API versions for `.Capabilities.APIVersions` (comma lists allowed). Repeatable.
    #[arg(
        long = "api-versions",
        short = 'a',
        value_name = "VERSION",
        value_delimiter = ','
    )]
    pub api_versions: Vec<String>,
    /// Print only these templates (paths like templates/deployment.yaml). Repeatable.
    #[arg(long = "show-only", short = 's', value_name = "PATH")]
    pub show_only: Vec<String>,
    /// Also print the CRDs from crds/, first.
    #[arg(long = "include-crds")]
    pub include_crds: bool,
    /// Leave hooks (helm.sh/hook) out.
    #[arg(long = "no-hooks")]
    pub no_hooks: bool,
    /// Leave test hooks (helm.sh/hook: test) out.
    #[arg(long = "skip-tests")]
    pub skip_tests: bool,
    /// Say the release is an upgrade (`.Release.IsUpgrade`), as `helm template --is-upgrade`.
    #[arg(long = "is-upgrade")]
    pub is_upgrade: bool,
}

/// Holds `tags` arguments.
#[derive(Debug, Args)]
pub struct TagsArgs {
    /// The repository: HOST[:PORT]/NAME, or oci:PATH.
    #[arg(value_name = "REPO")]
    pub repo: String,
}

/// Holds `login` arguments.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The registry, HOST[:PORT].
    #[arg(value_name = "HOST")]
    pub host: RegistryHost,
    /// The user name.
    #[arg(long, short = 'u', value_name = "USER")]
    pub username: String,
    /// Read the password (or token) from stdin. Required: passwords never go on the command line.
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
}

/// Lists the `cluster` subcommands.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Trust for every node.
    #[command(subcommand)]
    Trust(ClusterTrustCommand),
}

/// Lists the `cluster trust` subcommands.
#[derive(Debug, Subcommand)]
pub enum ClusterTrustCommand {
    /// Print the Namespace, ServiceAccount, ClusterRole and ClusterRoleBinding (get and patch
    /// nodes, to release the startup taint), ConfigMap (CA bundles) and DaemonSet that run
    /// `slipway node trust install` on every node, including nodes that join later.
    ///
    /// The DaemonSet is privileged with the host's / mounted at /host, tolerates every
    /// taint, runs at system-node-critical priority, is ready only when `node trust verify`
    /// succeeds, and rolls whenever a bundle changes. The agent image must come from a
    /// registry the nodes already trust: it cannot be pulled from the registry it is about
    /// to make trusted.
    #[command(
        after_help = "Example:\n  slipway cluster trust manifest --trust registry.internal:5000=ca.crt --agent-image ghcr.io/example/slipway:0.1 | kubectl apply -f -"
    )]
    Manifest(ClusterManifestArgs),
    /// Apply the `cluster trust manifest` objects (server-side apply, field manager
    /// slipway) and wait until the DaemonSet is ready on every node with the current
    /// bundle; then print one line per node.
    ///
    /// Ready means numberReady == updatedNumberScheduled == desiredNumberScheduled and
    /// every agent pod carries the current bundle checksum. An agent pod that cannot pull
    /// its image for a reason waiting will not cure (for example the agent image comes
    /// from the very registry the nodes do not trust yet) stops it at once, with the
    /// cause and the fix. Exit codes: 0 ready, 3 not ready in time or failed, 2 bad input.
    #[command(
        after_help = "Example:\n  slipway cluster trust apply --trust registry.internal:5000=ca.crt --agent-image ghcr.io/example/slipway:0.1 --kube-context prod --timeout 5m"
    )]
    Apply(ClusterApplyArgs),
}

/// Holds `cluster trust apply` arguments.
#[derive(Debug, Args)]
pub struct ClusterApplyArgs {
    /// The same flags as `cluster trust manifest`.
    #[command(flatten)]
    pub manifest: ClusterManifestArgs,
    /// The kubeconfig context to use [default: the current context]; KUBECONFIG is honoured.
    #[arg(long = "kube-context", value_name = "NAME")]
    pub kube_context: Option<String>,
    /// How long to wait for every node.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Time between reads of the API when it cannot be watched.
    #[arg(long = "poll-interval", value_name = "DURATION", default_value = "2s", value_parser = parse_duration, hide = true)]
    pub poll_interval: Duration,
}

/// Holds `cluster trust manifest` arguments.
#[derive(Debug, Args)]
pub struct ClusterManifestArgs {
    /// A registry and its CA bundle (PEM). Repeatable.
    #[arg(long = "trust", value_name = "HOST=FILE", required = true, value_parser = parse_host_file)]
    pub trust: Vec<HostFile>,
    /// The image of the agent (an image with slipway and /bin/sh).
    #[arg(long = "agent-image", value_name = "IMAGE", value_parser = parse_image)]
    pub agent_image: String,
    /// Namespace for the agent.
    #[arg(long, value_name = "NAME", default_value = "slipway-system")]
    pub namespace: String,
    /// Runtimes the agent configures on each node.
    #[arg(long, value_enum, default_value_t = RuntimeArg::Auto)]
    pub runtime: RuntimeArg,
    /// Also configure each node's OS trust store.
    #[arg(long = "system-store")]
    pub system_store: bool,
    /// The agent reaches the API server at this URL (https://HOST[:PORT]) instead of the
    /// `kubernetes` Service, for clusters whose Service routing (kube-proxy, or a CNI that
    /// replaces it) is not up before registry trust is.
    #[arg(long = "agent-api-server", value_name = "URL", value_parser = parse_api_server)]
    pub agent_api_server: Option<slipway_kube::ApiServer>,
}

/// Lists the `node` subcommands.
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Trust settings for this node's container runtimes.
    #[command(subcommand)]
    Trust(NodeTrustCommand),
}

/// Lists the `node trust` subcommands.
#[derive(Debug, Subcommand)]
pub enum NodeTrustCommand {
    /// Write what each runtime needs to trust the registry; idempotent and atomic.
    ///
    /// containerd: certs.d/HOST/hosts.toml + ca.crt (enabling config_path in config.toml
    /// if unset, which needs a restart). Docker: /etc/docker/certs.d/HOST/ (no restart).
    /// CRI-O/podman: /etc/containers/certs.d/HOST/. --system-store adds the CA to the OS
    /// trust store (runtimes must restart: Go caches system roots).
    #[command(after_help = "\
Examples:
  slipway node trust install --registry registry.internal:5000 --ca ca.crt
  slipway node trust install --registry registry.internal:5000 --ca ca.crt --dry-run
  slipway node trust install --registry registry.internal:5000 --ca ca.crt --host-root /host
  slipway node trust install --registry registry.internal:5000 --ca ca.crt --release-taint slipway.dev/registry-trust")]
    Install(NodeInstallArgs),
    /// Check the files, then handshake with the registry using exactly the runtime's trust.
    Verify(NodeTrustArgs),
    /// Undo install for a registry: remove created files, restore edited ones from backup.
    Remove(NodeRemoveArgs),
}

/// Chooses runtimes on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RuntimeArg {
    /// Every runtime found under the host root.
    Auto,
    /// containerd.
    Containerd,
    /// Docker Engine.
    Docker,
    /// CRI-O and podman.
    Crio,
    /// containerd, Docker and CRI-O, found or not.
    All,
}

/// Holds `node trust install|verify` arguments.
#[derive(Debug, Args)]
pub struct NodeTrustArgs {
    /// The registry, HOST[:PORT], exactly as image references name it.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub registry: RegistryHost,
    /// The registry's CA (or its own self-signed certificate), PEM.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Client certificate for mTLS, PEM.
    #[arg(long = "client-cert", value_name = "FILE", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// Key of --client-cert, PEM.
    #[arg(long = "client-key", value_name = "FILE", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// DANGEROUS, test environments only: skip verification for this registry.
    #[arg(long)]
    pub insecure: bool,
    /// Which runtimes to configure.
    #[arg(long, value_enum, default_value_t = RuntimeArg::Auto)]
    pub runtime: RuntimeArg,
    /// Also add the CA to the OS trust store.
    #[arg(long = "system-store")]
    pub system_store: bool,
    /// containerd: move legacy `registry.mirrors` / `configs.<host>.tls` from config.toml
    /// into certs.d hosts.toml files (containerd refuses them next to config_path).
    #[arg(long = "migrate-legacy")]
    pub migrate_legacy: bool,
    /// The node's root, for a DaemonSet that mounts the host (default /).
    #[arg(long = "host-root", value_name = "DIR", default_value = "/")]
    pub host_root: PathBuf,
    /// Print the exact diff, change nothing.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// `auto`: SIGHUP dockerd/crio when insecure settings changed (pid file under the
    /// root) and restart containerd with systemctl when config.toml changed (node root
    /// `/` only). `never`: only report what needs it.
    #[arg(long = "restart-runtime", value_enum, default_value_t = RestartArg::Never)]
    pub restart_runtime: RestartArg,
    /// Time allowed for verify's handshake.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// Holds `node trust install` arguments.
#[derive(Debug, Args)]
pub struct NodeInstallArgs {
    /// What to trust and where, as `verify` takes it.
    #[command(flatten)]
    pub trust: NodeTrustArgs,
    /// Once installed, remove this taint from the node's Node object (with the pod's
    /// service account), so that a node registered with it (kubelet
    /// `--register-with-taints slipway.dev/registry-trust=pending:NoSchedule`) takes pods
    /// only when it trusts the registry. The trust DaemonSet passes it.
    #[arg(long = "release-taint", value_name = "KEY")]
    pub release_taint: Option<String>,
    /// The node's name in the cluster, for --release-taint.
    #[arg(
        long = "node-name",
        value_name = "NAME",
        env = "NODE_NAME",
        requires = "release_taint"
    )]
    pub node_name: Option<String>,
}

/// Chooses whether install touches runtime processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RestartArg {
    /// Reload or restart what the change needs.
    Auto,
    /// Only report it.
    Never,
}

/// Holds `node trust remove` arguments.
#[derive(Debug, Args)]
pub struct NodeRemoveArgs {
    /// The registry whose trust install wrote.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub registry: RegistryHost,
    /// Whose files to undo: `auto` or `all` undo everything install wrote for the
    /// registry (the OS store included); a runtime undoes only its own files, and the rest
    /// stays recorded for a later remove.
    #[arg(long, value_enum, default_value_t = RuntimeArg::Auto)]
    pub runtime: RuntimeArg,
    /// The node's root (default /).
    #[arg(long = "host-root", value_name = "DIR", default_value = "/")]
    pub host_root: PathBuf,
    /// Print the exact diff, change nothing.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// `auto`: SIGHUP dockerd/crio when their restored settings need it (pid file under the
    /// root) and restart containerd with systemctl when config.toml was restored (node
    /// root `/` only). `never`: only report what needs it.
    #[arg(long = "restart-runtime", value_enum, default_value_t = RestartArg::Never)]
    pub restart_runtime: RestartArg,
}

/// Lists the `pki` subcommands.
#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Create a CA in --dir: ca.crt, ca.key (0600) and bundle.pem (what nodes trust).
    ///
    /// ECDSA P-256 by default, CA:TRUE with path length 1, key usage critical. Name
    /// constraints (--permit-dns, --permit-ip) limit what it can ever issue; Go clients
    /// (containerd, Docker) enforce them. An existing CA is never overwritten.
    #[command(
        after_help = "Example:\n  slipway pki init --dir /srv/pki --permit-dns corp.test --permit-ip 10.0.0.0/8"
    )]
    Init(PkiInitArgs),
    /// Issue the registry's server certificate: PREFIX.crt, .key (0600), .chain.pem, .fullchain.pem.
    ///
    /// Names go in the subjectAltName (Go clients reject names found only in the CN), with
    /// serverAuth and a random serial. PREFIX.fullchain.pem is ready for Distribution's
    /// http.tls.certificate. Names outside the CA's constraints are refused.
    #[command(
        after_help = "Example:\n  slipway pki issue --dir /srv/pki --dns registry.corp.test --ip 10.0.0.5 --out /srv/pki/registry"
    )]
    Issue(PkiIssueArgs),
    /// Show what a certificate file holds, or what a registry serves (--remote).
    ///
    /// With --warn-within, exits 1 when any certificate expires sooner than that, so it can
    /// run from cron or as a probe.
    Inspect(PkiInspectArgs),
    /// Re-issue a leaf from the current CA once 2/3 of its lifetime has passed (or --force),
    /// keeping its names.
    Renew(PkiRenewArgs),
    /// Rotate the CA in stages without failed pulls: prepare, switch, retire.
    ///
    /// The stage is read from the certificates in --dir, so the command resumes after an
    /// interruption. Without STEP it runs the next stage. Each stage prints exactly what
    /// the nodes must trust and what the registry must be restarted with.
    #[command(after_help = "\
Stages:
  prepare  new CA (ca-new.crt); bundle.pem = old + new. Distribute bundle.pem to every node.
  switch   re-issue --leaf from the new CA, which becomes ca.crt. Needs --confirm-nodes-trust
           or --nodes-trust FILE (a CA file as a node has it, checked to hold the new CA).
           Restart the registry with the new fullchain.
  retire   bundle.pem = new CA only; the old CA's key is deleted.")]
    Rotate(PkiRotateArgs),
}

/// Chooses a key algorithm on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KeyArg {
    /// ECDSA P-256.
    Ecdsa,
    /// RSA 2048.
    Rsa,
}

/// Holds `pki init` arguments.
#[derive(Debug, Args)]
pub struct PkiInitArgs {
    /// The PKI folder (created if missing).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The CA's common name.
    #[arg(
        long = "cn",
        value_name = "NAME",
        default_value = "slipway registry CA"
    )]
    pub common_name: String,
    /// Key algorithm.
    #[arg(long, value_enum, default_value_t = KeyArg::Ecdsa)]
    pub key: KeyArg,
    /// Only names equal to or under SUFFIX may be issued. Repeatable.
    #[arg(long = "permit-dns", value_name = "SUFFIX")]
    pub permit_dns: Vec<String>,
    /// Only IP addresses in CIDR may be issued. Repeatable.
    #[arg(long = "permit-ip", value_name = "CIDR")]
    pub permit_ip: Vec<String>,
    /// How long the CA is valid (e.g. 10y, 365d).
    #[arg(long, value_name = "DURATION", default_value = "10y", value_parser = parse_validity)]
    pub validity: Duration,
}

/// Holds `pki issue` arguments.
#[derive(Debug, Args)]
pub struct PkiIssueArgs {
    /// The PKI folder holding ca.crt and ca.key.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// A DNS name for the certificate. Repeatable.
    #[arg(long = "dns", value_name = "NAME")]
    pub dns: Vec<String>,
    /// An IP address for the certificate. Repeatable.
    #[arg(long = "ip", value_name = "ADDR")]
    pub ip: Vec<String>,
    /// Where to write: PREFIX.crt, PREFIX.key, PREFIX.chain.pem, PREFIX.fullchain.pem.
    #[arg(long, value_name = "PREFIX")]
    pub out: PathBuf,
    /// Validity (397d keeps every client, browsers included, happy).
    #[arg(long, value_name = "DURATION", default_value = "397d", value_parser = parse_validity)]
    pub validity: Duration,
    /// Key algorithm.
    #[arg(long, value_enum, default_value_t = KeyArg::Ecdsa)]
    pub key: KeyArg,
    /// Replace a certificate and key already at PREFIX; the old files are kept beside them
    /// as FILE.bak-TIME.
    #[arg(long)]
    pub force: bool,
}

/// Holds `pki inspect` arguments.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["file", "remote"])))]
pub struct PkiInspectArgs {
    /// A PEM file of one or more certificates.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Inspect what a registry serves instead.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub remote: Option<RegistryHost>,
    /// Exit 1 if any certificate expires within this time (e.g. 30d).
    #[arg(long = "warn-within", value_name = "DURATION", value_parser = parse_validity)]
    pub warn_within: Option<Duration>,
    /// Time allowed for --remote.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// Holds `pki renew` arguments.
#[derive(Debug, Args)]
pub struct PkiRenewArgs {
    /// The PKI folder holding the CA.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The leaf, as the --out PREFIX it was issued with.
    #[arg(long, value_name = "PREFIX")]
    pub leaf: PathBuf,
    /// Renew now, whatever its age.
    #[arg(long)]
    pub force: bool,
    /// Key algorithm of the new key.
    #[arg(long, value_enum, default_value_t = KeyArg::Ecdsa)]
    pub key: KeyArg,
}

/// Names a rotation stage on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StepArg {
    /// Make the new CA and the old + new bundle.
    Prepare,
    /// Re-issue the leaf from the new CA.
    Switch,
    /// Drop the old CA.
    Retire,
}

/// Holds `pki rotate` arguments.
#[derive(Debug, Args)]
pub struct PkiRotateArgs {
    /// The stage to run; the next one when omitted.
    #[arg(value_enum, value_name = "STEP")]
    pub step: Option<StepArg>,
    /// The PKI folder.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The registry's leaf, as its --out PREFIX (needed by switch; checked by retire).
    #[arg(long, value_name = "PREFIX")]
    pub leaf: Option<PathBuf>,
    /// Confirm every node already trusts bundle.pem (switch).
    #[arg(long = "confirm-nodes-trust")]
    pub confirm_nodes_trust: bool,
    /// A CA file as a node has it; switch checks it holds the new CA.
    #[arg(long = "nodes-trust", value_name = "FILE")]
    pub nodes_trust: Option<PathBuf>,
    /// The registry's HOST[:PORT], so the printed commands are exact.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub registry: Option<RegistryHost>,
    /// Only print the current stage.
    #[arg(long)]
    pub status: bool,
}

/// Lists the `registry` subcommands.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Connect to a registry and name what happens, with the fix for this machine and the nodes.
    ///
    /// Prints the verdict (ok, unknown-authority, hostname-mismatch, expired, not-yet-valid,
    /// legacy-common-name, plain-http, tls-required, client-cert-required,
    /// connection-refused, dns, timeout, not-found, other), the certificate chain the server
    /// sent, the trust sources used, the answer of GET /v2/, and the fix.
    /// Exits 0 only when the verdict is ok.
    #[command(after_help = "\
Examples:
  slipway registry probe registry.internal:5000
  slipway --registry-ca registry.internal:5000=ca.crt registry probe registry.internal:5000
  slipway --output json registry probe registry.internal:5000 | jq .verdict")]
    Probe(ProbeArgs),
}

/// Holds `registry probe` arguments.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The registry, as HOST[:PORT] (port 443 when omitted; 80 with --registry-plain-http).
    #[arg(value_name = "HOST[:PORT]")]
    pub host: RegistryHost,

    /// Time allowed to connect and for each read (e.g. 10s, 500ms).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// Holds a `HOST=FILE` flag value.
#[derive(Clone, Debug)]
pub struct HostFile {
    /// The registry.
    pub host: RegistryHost,
    /// The file.
    pub file: PathBuf,
}

/// Holds a `HOST=CERT,KEY` flag value.
#[derive(Clone, Debug)]
pub struct HostPair {
    /// The registry.
    pub host: RegistryHost,
    /// The certificate file.
    pub cert: PathBuf,
    /// The key file.
    pub key: PathBuf,
}

fn split_host(s: &str, shape: &str) -> Result<(RegistryHost, String), String> {
    let (host, rest) = s.split_once('=').ok_or_else(|| {
        format!(
            "expected {shape} (e.g. registry.internal:5000={}), but there is no `=`",
            &shape[5..]
        )
    })?;
    let host = RegistryHost::parse(host).map_err(|e| e.to_string())?;
    if rest.is_empty() {
        return Err(format!("expected {shape}, but nothing follows `=`"));
    }
    Ok((host, rest.to_string()))
}

fn parse_api_server(s: &str) -> Result<slipway_kube::ApiServer, String> {
    slipway_kube::ApiServer::parse(s)
}

fn parse_host_file(s: &str) -> Result<HostFile, String> {
    let (host, file) = split_host(s, "HOST=FILE")?;
    Ok(HostFile {
        host,
        file: file.into(),
    })
}

fn parse_host_pair(s: &str) -> Result<HostPair, String> {
    let (host, rest) = split_host(s, "HOST=CERT,KEY")?;
    let (cert, key) = rest
        .split_once(',')
        .filter(|(c, k)| !c.is_empty() && !k.is_empty())
        .ok_or_else(|| format!("expected HOST=CERT,KEY, but `{rest}` is not CERT,KEY"))?;
    Ok(HostPair {
        host,
        cert: cert.into(),
        key: key.into(),
    })
}

fn parse_validity(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 397d, 10y or 24h"))?;
    let secs = match unit {
        "h" => n * 3600,
        "d" => n * 86_400,
        "y" => n * 365 * 86_400,
        _ => return Err(format!("unknown unit `{unit}` in `{s}`; use h, d or y")),
    };
    if secs == 0 || n > 100 * 365 * 24 {
        return Err(format!(
            "`{s}` must be more than zero and at most 100 years"
        ));
    }
    Ok(Duration::from_secs(secs))
}

/// Checks an image reference flag as every other reference is checked (Docker's rules), and
/// keeps it as written.
fn parse_image(s: &str) -> Result<String, String> {
    slipway_oci::Reference::parse(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

/// Reads a duration flag with Go's rules (`500ms`, `1m30s`, `2h`), as werf's flags are read;
/// a bare number is seconds. It must be more than 0 and less than a day.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let nanos = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse::<i64>()
            .ok()
            .and_then(|secs| secs.checked_mul(1_000_000_000))
            .ok_or_else(|| format!("`{s}` seconds is too long"))?
    } else {
        slipway_dockerfile::parse_go_duration(s).map_err(|e| e.to_string())?
    };
    if !(nanos > 0 && nanos < 86_400 * 1_000_000_000) {
        return Err(format!("`{s}` must be more than 0 and less than a day"));
    }
    Ok(Duration::from_nanos(nanos as u64))
}

#[cfg(test)]
mod tests;
