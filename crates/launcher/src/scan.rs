//! Finding, in argv, the few things that must be decided before Node runs.
//!
//! The parser proper is TypeScript (packages/engine/src/options.ts), and it
//! runs again in the Node process this launcher starts, so this scan never
//! judges values or reports mistakes. It walks argv by getopt_long's rules
//! (clustered short options, `--name=value`, unique long prefixes, the first
//! non-option word or `--` ends the options) using the option table the
//! build writes beside the script, and notes the options that choose a
//! namespace or a way to start. Whatever it cannot be sure of (an unknown or
//! ambiguous name, a missing value) makes the scan give up, and the launcher
//! then hands argv to Node unchanged, whose parser says what is wrong.

/// One row of the option table: `SHORT LONG[,ALIAS...] ARG`.
pub struct Row {
    pub short: Option<char>,
    pub names: Vec<String>,
    pub takes_value: bool,
}

/// Reads the table's text; rows that do not parse are skipped (the table is
/// generated, so that never happens unless the file is damaged, and then a
/// scan that finds an unknown option gives up safely).
pub fn read_table(text: &str) -> Vec<Row> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split(' ');
            let short = f.next()?;
            let names = f.next()?;
            let arg = f.next()?;
            let mut sc = short.chars();
            let short = match (sc.next(), sc.next()) {
                (Some('-'), None) => None,
                (Some(c), None) => Some(c),
                _ => return None,
            };
            Some(Row { short, names: names.split(',').map(str::to_string).collect(), takes_value: arg == "1" })
        })
        .collect()
}

/// What argv asks for, as far as starting is concerned.
#[derive(Debug, Default, PartialEq)]
pub struct Scan {
    pub foreground: bool,
    pub quiet: bool,
    /// --help, --version or --print-capabilities: prints and exits.
    pub prints: bool,
    pub userns: Option<String>,
    pub netns: bool,
    pub netns_only: bool,
    /// The words after the options: a PID, or the command to run.
    pub rest: Vec<String>,
}

/// The long name an option's row is known by (its first name).
fn canonical(row: &Row) -> &str {
    &row.names[0]
}

fn apply(s: &mut Scan, row: &Row, value: Option<&str>) {
    match canonical(row) {
        "foreground" => s.foreground = true,
        "quiet" => s.quiet = true,
        "help" | "version" | "print-capabilities" => s.prints = true,
        "userns" => s.userns = value.map(str::to_string),
        "netns" => s.netns = true,
        "netns-only" => s.netns_only = true,
        _ => {}
    }
}

/// getopt_long's lookup: an exact name wins, else a prefix of exactly one option.
fn long_row<'a>(table: &'a [Row], name: &str) -> Option<&'a Row> {
    if let Some(r) = table.iter().find(|r| r.names.iter().any(|n| n == name)) {
        return Some(r);
    }
    if name.is_empty() {
        return None;
    }
    let mut hits = table.iter().filter(|r| r.names.iter().any(|n| n.starts_with(name)));
    let first = hits.next()?;
    if hits.any(|r| !std::ptr::eq(r, first)) {
        return None;
    }
    Some(first)
}

/// Scans argv (without the program name); None when unsure.
pub fn scan(table: &[Row], argv: &[String]) -> Option<Scan> {
    let mut s = Scan::default();
    let mut i = 0;
    while i < argv.len() {
        let a = argv[i].as_str();
        if a == "--" {
            i += 1;
            break;
        }
        if let Some(body) = a.strip_prefix("--") {
            let (name, inline) = match body.find('=') {
                Some(eq) => (&body[..eq], Some(&body[eq + 1..])),
                None => (body, None),
            };
            let row = long_row(table, name)?;
            let value = if row.takes_value {
                match inline {
                    Some(v) => Some(v.to_string()),
                    None => {
                        i += 1;
                        Some(argv.get(i)?.clone())
                    }
                }
            } else if inline.is_some() {
                return None;
            } else {
                None
            };
            apply(&mut s, row, value.as_deref());
            i += 1;
            continue;
        }
        if a.len() > 1 && a.starts_with('-') {
            let chars: Vec<char> = a[1..].chars().collect();
            for (k, ch) in chars.iter().enumerate() {
                let row = table.iter().find(|r| r.short == Some(*ch))?;
                if row.takes_value {
                    let attached: String = chars[k + 1..].iter().collect();
                    let value = if attached.is_empty() {
                        i += 1;
                        argv.get(i)?.clone()
                    } else {
                        attached
                    };
                    apply(&mut s, row, Some(&value));
                    break;
                }
                apply(&mut s, row, None);
            }
            i += 1;
            continue;
        }
        break;
    }
    s.rest = argv[i..].to_vec();
    Some(s)
}
