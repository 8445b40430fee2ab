//! The dashboard in headless Chromium (Debian's `chromium`), driven over the
//! DevTools protocol: it loads with no console error, draws a chart with
//! data, and its pause button pauses an engine (checked through the API).
//!
//! Without Chromium the test says so and passes (`.ci/run` installs it).
//! `KAIZEN_SCREENSHOT=path.png` also saves a screenshot of the dashboard
//! (the README's picture is made this way).

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket, stream::MaybeTlsStream};

use super::server_api::which;
use super::support_server::{Fleet, SECRET, Setup, get};

/// Chromium with the flags this machine needs (no sandbox as root, no
/// network beyond loopback), killed when dropped.
struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    ws_port: u16,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    fn start(binary: &std::path::Path) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--window-size=1280,1000",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Chromium tells its DevTools port on stderr.
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let mut port = None;
        for line in stderr.lines() {
            let line = line.unwrap();
            if let Some(rest) = line.split("ws://127.0.0.1:").nth(1) {
                port = rest.split('/').next().and_then(|p| p.parse().ok());
                break;
            }
        }
        let ws_port = port.expect("Chromium did not print its DevTools address");
        Browser {
            child,
            _profile: profile,
            ws_port,
        }
    }

    /// A DevTools session on the open page.
    fn page(&self) -> Page {
        let list = get(
            &format!("http://127.0.0.1:{}/json/list", self.ws_port),
            None,
        )
        .json();
        let url = list
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("no page target")
            .to_string();
        let (socket, _) = tungstenite::connect(url).unwrap();
        if let MaybeTlsStream::Plain(s) = socket.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        }
        Page {
            socket,
            next: 0,
            errors: Vec::new(),
            dialogs: Vec::new(),
            prompt_answer: String::new(),
        }
    }
}

/// A DevTools session: commands, and the events that matter here.
struct Page {
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    next: u64,
    /// Console errors, uncaught exceptions and failed loads.
    errors: Vec<String>,
    /// The messages of the dialogs that opened.
    dialogs: Vec<String>,
    /// What a prompt is answered with.
    prompt_answer: String,
}

impl Page {
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let msg = json!({"id": id, "method": method, "params": params});
        self.socket.send(Message::text(msg.to_string())).unwrap();
        loop {
            let Message::Text(text) = self.socket.read().unwrap() else {
                continue;
            };
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["id"] == id {
                assert!(v["error"].is_null(), "{method}: {v}");
                return v["result"].clone();
            }
            self.event(&v);
        }
    }

    fn event(&mut self, v: &Value) {
        let p = &v["params"];
        match v["method"].as_str() {
            Some("Runtime.consoleAPICalled") if p["type"] == "error" => {
                self.errors.push(format!("console.error: {}", p["args"]));
            }
            Some("Runtime.exceptionThrown") => {
                self.errors
                    .push(format!("exception: {}", p["exceptionDetails"]));
            }
            Some("Log.entryAdded") if p["entry"]["level"] == "error" => {
                self.errors.push(format!("log: {}", p["entry"]["text"]));
            }
            Some("Page.javascriptDialogOpening") => {
                self.dialogs
                    .push(p["message"].as_str().unwrap_or("").to_string());
                let answer = json!({"accept": true, "promptText": self.prompt_answer});
                // Answered at once; its reply is read with the next call.
                self.next += 1;
                let msg = json!({"id": self.next, "method": "Page.handleJavaScriptDialog", "params": answer});
                self.socket.send(Message::text(msg.to_string())).unwrap();
            }
            _ => {}
        }
    }

    /// Evaluates `js` in the page, returning its value.
    fn eval(&mut self, js: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": js, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(r["exceptionDetails"].is_null(), "{js}: {r}");
        r["result"]["value"].clone()
    }

    /// Polls `js` until it is true (bounded: 30 s).
    fn wait_for(&mut self, what: &str, js: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.eval(js) != json!(true) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

#[test]
fn the_dashboard_shows_live_charts_and_its_pause_button_pauses_an_engine() {
    let Some(chromium) = which("chromium").or_else(|| which("chromium-browser")) else {
        eprintln!(
            "SKIPPED the browser test: Chromium is not installed \
             (apt-get install chromium; .ci/run installs it)"
        );
        return;
    };
    let fleet = Fleet::start(Setup {
        bots: vec!["alpha", "beta", "gamma"],
        broken: vec!["delta"],
        variants: vec!["tuned"],
        ..Setup::default()
    });
    for _ in 0..12 {
        fleet.round();
    }
    let browser = Browser::start(&chromium);
    let mut page = browser.page();
    page.prompt_answer = SECRET.to_string();
    for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
        page.call(domain, json!({}));
    }
    page.call("Page.navigate", json!({"url": fleet.url("/")}));
    page.wait_for(
        "the cards of five bots",
        "document.querySelectorAll('article.bot').length === 5",
    );
    // The variants panel: the bot with variants, its serving variant.
    page.wait_for(
        "the variants panel",
        "!document.getElementById('variants-panel').hidden && \
         document.querySelectorAll('#variants tbody tr').length === 1 && \
         /^[0-9]+$/.test(document.querySelector('#variants tr[data-bot=tuned] td:nth-child(2)').textContent)",
    );
    page.wait_for(
        "a ROI chart with data",
        "[...document.querySelectorAll('svg.chart.roi path.series.delta')]\
         .some(p => (p.getAttribute('d').match(/L/g) || []).length >= 4)",
    );
    page.wait_for(
        "the live stream",
        "document.getElementById('stream').textContent === 'stream: live'",
    );
    // A round while the page is open reaches it through the stream.
    let before = page.eval(
        "document.querySelector('article.bot[data-bot=alpha] path.series.delta').getAttribute('d').length",
    );
    fleet.round();
    page.wait_for(
        "the new cycle on the chart",
        &format!(
            "document.querySelector('article.bot[data-bot=alpha] path.series.delta').getAttribute('d').length > {before}"
        ),
    );
    // Pause beta with the card's button; the token is asked once.
    page.eval(
        "setTimeout(() => document.querySelector('article.bot[data-bot=beta] button[data-action=pause]').click(), 0); true",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let beta = get(&fleet.url("/api/v1/engines/beta"), None).json();
        if beta["snapshot"]["paused"] == json!(true) {
            break;
        }
        assert!(Instant::now() < deadline, "beta was not paused: {beta}");
        page.eval("true"); // reads the dialog's event and answers it
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(page.dialogs.len(), 1, "{:?}", page.dialogs);
    page.wait_for(
        "beta shown paused",
        "document.querySelector('article.bot[data-bot=beta] .state').textContent === 'paused'",
    );
    // The token is not asked again.
    page.eval(
        "setTimeout(() => document.querySelector('article.bot[data-bot=beta] button[data-action=resume]').click(), 0); true",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&fleet.url("/api/v1/engines/beta"), None).json()["snapshot"]["paused"] != json!(false)
    {
        assert!(Instant::now() < deadline, "beta was not resumed");
        std::thread::sleep(Duration::from_millis(50));
    }
    page.eval(
        "setTimeout(() => document.querySelector('article.bot[data-bot=gamma] button[data-action=pause]').click(), 0); true",
    );
    page.wait_for(
        "gamma shown paused",
        "document.querySelector('article.bot[data-bot=gamma] .state').textContent === 'paused'",
    );
    assert_eq!(page.dialogs.len(), 1, "{:?}", page.dialogs);
    page.wait_for(
        "the audit trail on the page",
        "document.getElementById('audit').textContent.includes('engine.pause')",
    );
    // The failing bot's alert, and a bot's decisions with their energy factors.
    page.wait_for(
        "the error-rate alert of delta",
        "document.getElementById('alerts').textContent.includes('FIRING error_rate (delta)')",
    );
    page.wait_for(
        "delta shown alerting",
        "document.querySelector('article.bot[data-bot=delta] .state').textContent === 'alerting'",
    );
    page.eval("document.querySelector('article.bot[data-bot=alpha] h3').click(); true");
    page.wait_for(
        "alpha's decisions",
        "document.querySelectorAll('#decisions tbody tr').length >= 10",
    );
    if let Some(path) = std::env::var_os("KAIZEN_SCREENSHOT") {
        let shot = page.call("Page.captureScreenshot", json!({"format": "png"}));
        std::fs::write(&path, base64_decode(shot["data"].as_str().unwrap())).unwrap();
    }
    page.eval("true");
    assert!(
        page.errors.is_empty(),
        "errors in the page: {:#?}",
        page.errors
    );
}
