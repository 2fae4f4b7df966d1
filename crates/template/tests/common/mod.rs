//! Helpers shared by the template crate's oracle tests: run the code under test on a
//! thread of its own, and report its panics per case instead of aborting the test.

use std::any::Any;

/// The name of the threads [`on_big_stack`] starts; their panics are reported, not printed.
const RUNNER: &str = "template-runner";

/// Runs `f` on a thread with a large stack (deeply recursive cases must fail as Go fails,
/// not overflow the test's stack). Panics on that thread are caught and reported per case
/// by the caller, so the panic hook keeps quiet about them.
pub fn on_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() != Some(RUNNER) {
                default(info);
            }
        }));
    });
    std::thread::Builder::new()
        .name(RUNNER.into())
        .stack_size(1 << 30)
        .spawn(f)
        .expect("spawn the runner")
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// The message of a caught panic.
pub fn panic_text(payload: Box<dyn Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}
