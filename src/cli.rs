//! The command line (clap derive only; no logic here).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  bad input: unreadable, empty, not a capture; a capture cut or damaged (what was read
     before the damage is shown, and a warning gives its byte offset)
  2  usage error, or capture impossible (no privileges, no such interface, busy address)

Examples:
  sudo synfin demo                         the lesson's echo client/server, drawn live
  synfin replay captures/basic.pcap        the ladder of a saved capture
  synfin replay big.pcap --format summary  one line per connection
  synfin replay a.pcap b.pcap 'tcp port 8888'  two files merged by time, filtered
  sudo synfin watch -i lo tcp port 8888    watch live traffic on port 8888
  tcpdump -w - -i lo port 80 | synfin replay -";

/// See TCP's handshake and teardown: every segment, both endpoints' RFC 9293 states and the
/// socket calls behind them, on one timeline.
#[derive(Debug, Parser)]
#[command(name = "synfin", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Read saved pcap/pcapng files (`-` for stdin) and draw what happened.
    Replay(ReplayArgs),
    /// Capture live on an interface (needs root or CAP_NET_RAW).
    Watch(WatchArgs),
    /// Run the lesson's echo server and client on loopback while capturing, and draw it.
    Demo(DemoArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to stdout: `synfin man > synfin.1`.
    Man,
}

/// `synfin replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Capture files (`-` reads stdin), merged by time into one input as mergecap does,
    /// then an optional filter expression in tcpdump's syntax (`'tcp port 8888 and host
    /// 10.0.0.1'`). A word that names no file and does not look like a path starts the
    /// expression.
    #[arg(value_name = "FILE... [EXPRESSION]", required_unless_present = "read")]
    pub inputs: Vec<String>,
    /// Read this capture file, as tcpdump's -r (repeatable; before the FILE arguments).
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Vec<PathBuf>,
    /// Read the files one after another in the order given, instead of merging them by time.
    #[arg(long)]
    pub concatenate: bool,
    /// The full-screen view: the connection list, the selected connection's ladder, the
    /// sockets in each state over time (keys: ? for help).
    #[arg(long)]
    pub tui: bool,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Which connections.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Tracker options.
    #[command(flatten)]
    pub tracker: TrackerArgs,
}

/// `synfin watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Interface to capture on; `any` captures on every interface (Linux cooked frames, as
    /// `tcpdump -i any`; the filter then runs in user space only).
    #[arg(
        short = 'i',
        long = "interface",
        default_value = "lo",
        value_name = "IFACE"
    )]
    pub iface: String,
    /// Stop after this many TCP segments (after filters).
    #[arg(short = 'c', long = "count", value_name = "COUNT",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Also save every captured frame to this file (nanosecond timestamps); a name ending in
    /// `.pcapng` also keeps the traced calls and their processes as packet comments.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// Do not trace socket calls in the kernel (calls are then only inferred from packets).
    #[arg(long)]
    pub no_calls: bool,
    /// Only connections with an end held by this process id (repeatable; needs call tracing).
    #[arg(long, value_name = "PID")]
    pub pid: Vec<u32>,
    /// Only connections with an end held by a process of this name (the kernel's comm, at most
    /// 15 bytes; repeatable; needs call tracing).
    #[arg(long, value_name = "NAME")]
    pub comm: Vec<String>,
    /// Compare the inferred states with the kernel's own as each connection ends (tracefs).
    #[arg(long)]
    pub kernel_check: bool,
    /// The full-screen view: the connection list, the selected connection's ladder as it
    /// grows, the sockets in each state over time (keys: ? for help).
    #[arg(long)]
    pub tui: bool,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Which connections.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Tracker options.
    #[command(flatten)]
    pub tracker: TrackerArgs,
    /// A filter expression in tcpdump's syntax (`tcp port 8888`), also installed in the
    /// kernel as a socket filter where it can be expressed.
    #[arg(value_name = "EXPRESSION")]
    pub expression: Vec<String>,
}

/// A demo scenario, by its `--scenario` name (`basic`, `client-crash`, …), or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScenarioId {
    /// One message, upper-cased back; the client closes first.
    Basic,
    /// Several messages, then three clients one after another.
    Loop,
    /// send(b"") puts nothing on the wire.
    Empty,
    /// A client process killed without close().
    ClientCrash,
    /// The server closes first.
    ServerFirst,
    /// shutdown(SHUT_WR).
    HalfClose,
    /// connect() to a port with no listener.
    Refused,
    /// SO_LINGER 0 then close().
    Abort,
    /// close() with unread data.
    Unread,
    /// listen(1) and no accept().
    Backlog,
    /// Crossed FINs.
    SimultaneousClose,
    /// Crossed SYNs.
    SimultaneousOpen,
    /// A socket connected to itself.
    SelfConnect,
    /// The first SYN,ACK lost after the capture point: connected a second later.
    LateSynAck,
    /// The client's first FIN lost after the capture point.
    LostFin,
    /// Data overtaken by the FIN that follows it.
    FinBeforeData,
    /// Data sent to a closed client (an orphan): RST.
    OrphanLateData,
    /// A FIN-WAIT-2 orphan past tcp_fin_timeout: the late FIN meets an RST.
    OrphanTimeout,
    /// connect() abandoned in SYN_SENT: the late SYN,ACK meets an RST.
    AbandonedConnect,
    /// TCP Fast Open: data on the SYN.
    FastOpen,
    /// A SYN from the same port meets the server's TIME_WAIT.
    SynToTimeWait,
    /// A forged in-window RST not at RCV.NXT: a challenge ACK.
    RstChallenge,
    /// A full accept queue drops a final ACK: the request stays SYN_RECEIVED.
    AcceptOverflow,
    /// Every scenario, in the lesson's order.
    All,
}

impl ScenarioId {
    /// The `--scenario` name.
    pub fn name(self) -> &'static str {
        match self {
            ScenarioId::Basic => "basic",
            ScenarioId::Loop => "loop",
            ScenarioId::Empty => "empty",
            ScenarioId::ClientCrash => "client-crash",
            ScenarioId::ServerFirst => "server-first",
            ScenarioId::HalfClose => "half-close",
            ScenarioId::Refused => "refused",
            ScenarioId::Abort => "abort",
            ScenarioId::Unread => "unread",
            ScenarioId::Backlog => "backlog",
            ScenarioId::SimultaneousClose => "simultaneous-close",
            ScenarioId::SimultaneousOpen => "simultaneous-open",
            ScenarioId::SelfConnect => "self-connect",
            ScenarioId::LateSynAck => "late-syn-ack",
            ScenarioId::LostFin => "lost-fin",
            ScenarioId::FinBeforeData => "fin-before-data",
            ScenarioId::OrphanLateData => "orphan-late-data",
            ScenarioId::OrphanTimeout => "orphan-timeout",
            ScenarioId::AbandonedConnect => "abandoned-connect",
            ScenarioId::FastOpen => "fast-open",
            ScenarioId::SynToTimeWait => "syn-to-time-wait",
            ScenarioId::RstChallenge => "rst-challenge",
            ScenarioId::AcceptOverflow => "accept-overflow",
            ScenarioId::All => "all",
        }
    }
}

/// `synfin demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Scenario to run (`all` runs every one); see --list-scenarios.
    #[arg(long, value_enum, default_value_t = ScenarioId::Basic, value_name = "NAME")]
    pub scenario: ScenarioId,
    /// List the scenarios, one line each, and exit.
    #[arg(long)]
    pub list_scenarios: bool,
    /// Address the echo server binds (the lesson's 127.0.0.9:8888).
    #[arg(long, default_value = "127.0.0.9:8888", value_name = "IP:PORT")]
    pub addr: SocketAddr,
    /// A message the client sends (repeatable).
    #[arg(long = "message", value_name = "TEXT")]
    pub messages: Vec<String>,
    /// Type the messages yourself; the ladder grows as you type (Ctrl-D closes).
    #[arg(long)]
    pub interactive: bool,
    /// Then show the scenarios' connections in the full-screen view (keys: ? for help).
    #[arg(long)]
    pub tui: bool,
    /// Compare the inferred states with the kernel's own (tracefs).
    #[arg(long)]
    pub kernel_check: bool,
    /// Save the capture to this pcap file.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Tracker options.
    #[command(flatten)]
    pub tracker: TrackerArgs,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The annotated ladder (the default).
    Ladder,
    /// One row per connection, then totals.
    Summary,
    /// JSON Lines, one event per line (docs/SCHEMA.md).
    Jsonl,
    /// A Mermaid sequenceDiagram per connection, in a Markdown document (-o x.mmd: one bare
    /// diagram; -o DIR/: one file per connection).
    Mermaid,
    /// Each endpoint's states as bars on a shared time axis (see --log-time).
    Timeline,
    /// The ladder as one self-contained SVG picture.
    Svg,
    /// The SVG picture inside a minimal HTML page.
    Html,
    /// One self-contained HTML page for the whole capture: totals, a sortable connection
    /// table, sockets in each state over time, RTT and duration distributions, and each
    /// connection's ladder on a click (the default for -o FILE.html).
    Report,
    /// The live view: each segment's row as it comes, connections interleaved under a
    /// gutter (the default for watch and for replay of a pipe).
    Stream,
    /// Nothing but the summary line on stderr (for timing).
    None,
}

/// `--time-scale`: how the SVG's vertical axis follows time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TimeScale {
    /// Time-scaled, long waits as a broken axis with their length.
    Compressed,
    /// Proportional to time, no breaks.
    Linear,
    /// Evenly spaced rows, level arrows.
    Rows,
}

/// When to colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set or TERM=dumb.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// How to print.
#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// Output format [default: from -o's extension (.svg .html .jsonl .mmd .md .txt), else
    /// the ladder, on a terminal or not].
    #[arg(short = 'f', long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Colour.
    #[arg(long, value_enum, default_value = "auto", value_name = "WHEN")]
    pub color: ColorChoice,
    /// Line width of the ladder [default: the terminal's, else 100].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(40..=1000))]
    pub width: Option<u16>,
    /// Show payload previews (escaped, at most 32 bytes).
    #[arg(long)]
    pub payload: bool,
    /// Show at most N segments per connection (ladder, SVG/HTML, Mermaid, timeline): the
    /// first N/2 and the last N-N/2; the middle becomes one row "… M segments elided …". The
    /// state changes of the hidden segments stay, on that row (never on another segment's);
    /// their calls and anomalies are hidden with them. 0 hides every segment (the states remain
    /// on the one elision row); 1 keeps only the last segment.
    #[arg(long, value_name = "N")]
    pub max_segments: Option<usize>,
    /// Timeline: a linear time axis (by default gaps are log-scaled, so TIME_WAIT's 60 s does
    /// not squash the handshake's microseconds).
    #[arg(long, conflicts_with = "log_time")]
    pub linear_time: bool,
    /// Timeline: log-scale the gaps between events (the default).
    #[arg(long, hide = true)]
    pub log_time: bool,
    /// SVG/HTML: the vertical axis. `compressed` (the default) follows time, arrows sloping
    /// from send to arrival (crossed SYNs or FINs cross), long waits shown as a broken axis
    /// with their length; `linear` follows time without breaks; `rows` spaces rows evenly
    /// with level arrows, as the ladder.
    #[arg(long, value_enum, default_value = "compressed", value_name = "SCALE")]
    pub time_scale: TimeScale,
    /// Print numbers, not names (accepted for tcpdump's habit: synfin never looks names up).
    #[arg(short = 'n', hide_short_help = true)]
    pub numeric: bool,
    /// Write the output to this file instead of stdout (its extension picks the format), or
    /// to DIR/ (ending in `/`): one Mermaid file per connection.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Which connections to show.
#[derive(Debug, Args, Clone, Default)]
pub struct FilterArgs {
    /// Only segments to or from this port (repeatable).
    #[arg(long = "port", value_name = "PORT")]
    pub ports: Vec<u16>,
    /// Only segments to or from this address, network (CIDR: 10.0.0.0/8) or host name
    /// (repeatable).
    #[arg(long = "host", value_name = "ADDR")]
    pub hosts: Vec<String>,
    /// Only this connection id (repeatable).
    #[arg(long = "conn", value_name = "ID")]
    pub conns: Vec<u64>,
    /// Only connections in which an endpoint entered this state (e.g. TIME_WAIT).
    #[arg(long, value_name = "STATE", value_parser = parse_state)]
    pub state: Option<crate::events::TcpState>,
    /// Only connections with this outcome.
    #[arg(long, value_enum, value_name = "OUTCOME")]
    pub outcome: Option<OutcomeArg>,
    /// Only connections with at least one anomaly.
    #[arg(long)]
    pub anomalies: bool,
}

/// Outcomes, for `--outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutcomeArg {
    /// FINs both ways.
    Closed,
    /// Ended by an RST.
    Reset,
    /// SYN answered by RST.
    Refused,
    /// RST in the handshake, or evicted.
    Aborted,
    /// Handshake never completed.
    Incomplete,
    /// Still open at the end.
    Open,
}

fn parse_state(s: &str) -> Result<crate::events::TcpState, String> {
    crate::events::TcpState::parse(s).ok_or_else(|| {
        let names: Vec<&str> = crate::events::TcpState::ALL
            .iter()
            .map(|s| s.name())
            .collect();
        format!("unknown state '{s}' (one of: {})", names.join(", "))
    })
}

/// Tracker settings.
#[derive(Debug, Args, Clone)]
pub struct TrackerArgs {
    /// How long TIME_WAIT lasts (Linux: 60 s).
    #[arg(long, default_value_t = 60.0, value_name = "SECS")]
    pub time_wait: f64,
    /// Track at most this many connections at once; the oldest are evicted (reported).
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub max_connections: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn scenario_names_are_the_command_line_values() {
        for id in ScenarioId::value_variants() {
            let pv = id.to_possible_value().expect("every scenario is listed");
            assert_eq!(pv.get_name(), id.name());
        }
    }

    #[test]
    fn parses_filters_and_formats() {
        let cli = Cli::try_parse_from([
            "synfin",
            "replay",
            "a.pcap",
            "b.pcap",
            "--format",
            "summary",
            "--port",
            "80",
            "--state",
            "time-wait",
            "--outcome",
            "refused",
        ])
        .unwrap();
        let Cmd::Replay(r) = cli.cmd else { panic!() };
        assert_eq!(r.inputs.len(), 2);
        assert_eq!(r.output.format, Some(Format::Summary));
        assert_eq!(r.filter.ports, [80]);
        assert_eq!(r.filter.state, Some(crate::events::TcpState::TimeWait));
        assert!(Cli::try_parse_from(["synfin", "replay", "a", "--state", "NOPE"]).is_err());
        assert!(Cli::try_parse_from(["synfin", "replay", "a", "--width", "5"]).is_err());
    }
}
