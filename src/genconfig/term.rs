//! The terminal: raw mode and the alternate screen, and getting out of them
//! on every path.
//!
//! An admin over SSH whose terminal is left in raw mode (no echo, no line
//! editing) has to know about `reset` to recover; genconfig must never do
//! that to them. So the terminal is restored:
//! - by [`TerminalGuard`]'s `Drop` on every return, early or not, error or
//!   not;
//! - by a panic hook, before the panic message is printed (the message
//!   would otherwise be drawn into the alternate screen and lost).
//!
//! Both may run (a panic unwinds through the guard): [`restore`] acts once.
//!
//! A signal that ends the editor (SIGTERM from `kill` or a shutdown, SIGHUP
//! when the SSH connection drops, SIGINT or SIGQUIT sent from outside: in
//! raw mode Ctrl-C is a key, not a signal) is caught too, by a thread that
//! records it; the event loop sees it within [`POLL`], leaves through the
//! guard like a normal return, and [`run`] says which signal it was. Nothing
//! is saved then: config.eol keeps what the last explicit save wrote.
//!
//! When the terminal is gone (the SSH connection dropped: SIGHUP, then every
//! read of the terminal gives end of file), crossterm's event reader never
//! returns: it reads end of file again and again. So the thread that caught
//! the signal waits [`GRACE`] for the event loop to leave, and otherwise
//! ends the process itself, with the same exit code; without it, a dropped
//! connection would leave genconfig spinning a core forever.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use crossterm::cursor::Show;
use crossterm::event::{self, DisableBracketedPaste, EnableBracketedPaste, Event, KeyEventKind};
#[cfg(debug_assertions)]
use crossterm::event::{KeyCode, KeyEvent};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use super::input;
use super::model::Model;
use super::view::{self, ViewState};

/// Is the terminal in raw mode and the alternate screen, by our doing?
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Puts the terminal back as the shell expects it, once: a second
/// "leave the alternate screen" is not harmless (xterm and tmux then
/// restore the cursor saved on entering, and the panic message printed in
/// between is overwritten). Errors are ignored: this runs while leaving,
/// when nothing better can be done.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let _ = disable_raw_mode();
    let mut out = io::stdout();
    let _ = execute!(out, DisableBracketedPaste, LeaveAlternateScreen, Show);
    let _ = out.flush();
}

static HOOK: Once = Once::new();

/// Installs (once) a panic hook that restores the terminal, then lets the
/// previous hook print the panic.
pub fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// Raw mode and the alternate screen while it lives.
pub struct TerminalGuard {
    _private: (),
}

impl TerminalGuard {
    pub fn enter() -> io::Result<TerminalGuard> {
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        // From here on, whatever fails, Drop restores.
        let guard = TerminalGuard { _private: () };
        // Bracketed paste: a pasted text arrives as one piece, so its
        // letters are never taken for commands (`s`, `q`…).
        execute!(io::stdout(), EnterAlternateScreen, EnableBracketedPaste)?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// How long the event loop waits for a key before it looks for a signal.
const POLL: Duration = Duration::from_millis(100);

/// The signals that end the editor.
const STOP_SIGNALS: [(i32, &str); 4] = [
    (signal_hook::consts::SIGTERM, "SIGTERM"),
    (signal_hook::consts::SIGHUP, "SIGHUP"),
    (signal_hook::consts::SIGINT, "SIGINT"),
    (signal_hook::consts::SIGQUIT, "SIGQUIT"),
];

/// How the editor ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The admin quit.
    Quit,
    /// A signal stopped it: its number and name.
    Signal(i32, &'static str),
}

/// How long the event loop has to leave after a stop signal before the
/// signal thread ends the process (a hung-up terminal).
const GRACE: Duration = Duration::from_secs(2);

/// Records the first stop signal in `caught` (0: none) instead of dying
/// with the terminal in raw mode, and ends the process if the event loop
/// has not left [`GRACE`] later. Closing the returned handle stops the
/// thread and gives the signals back their default actions.
fn catch_signals(caught: &Arc<AtomicUsize>) -> io::Result<signal_hook::iterator::Handle> {
    let mut signals = signal_hook::iterator::Signals::new(STOP_SIGNALS.map(|(s, _)| s))?;
    let handle = signals.handle();
    let caught = Arc::clone(caught);
    std::thread::Builder::new()
        .name("genconfig-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                // Signal numbers are small positive integers.
                caught.store(usize::try_from(sig).unwrap_or(usize::MAX), Ordering::SeqCst);
                std::thread::sleep(GRACE);
                restore();
                std::process::exit(128 + sig);
            }
        })?;
    Ok(handle)
}

/// Runs the editor until the admin quits or a signal stops it.
pub fn run(model: &mut Model) -> io::Result<Ended> {
    install_panic_hook();
    let caught = Arc::new(AtomicUsize::new(0));
    let signals = catch_signals(&caught)?;
    let ended = run_loop(model, &caught);
    // The guard in run_loop has restored the terminal by now.
    if !matches!(ended, Ok(Ended::Signal(..))) {
        signals.close();
    }
    ended
}

fn run_loop(model: &mut Model, caught: &AtomicUsize) -> io::Result<Ended> {
    let _guard = TerminalGuard::enter()?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    terminal.clear()?;
    let mut st = ViewState::default();
    // Drawn again only after an event: the loop also wakes every POLL to
    // look for a signal, and that must not cost a redraw.
    let mut redraw = true;
    loop {
        let sig = caught.load(Ordering::SeqCst);
        if sig != 0 {
            let (n, name) = STOP_SIGNALS
                .iter()
                .copied()
                .find(|(s, _)| usize::try_from(*s).ok() == Some(sig))
                .unwrap_or((0, "a signal"));
            return Ok(Ended::Signal(n, name));
        }
        if redraw {
            terminal.draw(|f| view::draw(f, model, &mut st))?;
            redraw = false;
            if model.should_quit() {
                break;
            }
        }
        if !event::poll(POLL)? {
            continue;
        }
        redraw = true;
        match event::read()? {
            Event::Key(k) if k.kind == KeyEventKind::Press => {
                #[cfg(debug_assertions)]
                test_panic(&k);
                input::handle_key(model, k);
            }
            Event::Paste(text) => input::handle_paste(model, &text),
            // The next draw takes the new size.
            Event::Resize(..) => {}
            _ => {}
        }
    }
    Ok(Ended::Quit)
}

/// Debug builds only (the tests' binary; never a release): with
/// `CONTENEUR_GENCONFIG_TEST_PANIC` set, F12 panics, so the end-to-end test
/// can show that a panic leaves the terminal usable.
#[cfg(debug_assertions)]
fn test_panic(k: &KeyEvent) {
    if k.code == KeyCode::F(12) && std::env::var_os("CONTENEUR_GENCONFIG_TEST_PANIC").is_some() {
        panic!("genconfig: test panic (F12 with CONTENEUR_GENCONFIG_TEST_PANIC)");
    }
}
