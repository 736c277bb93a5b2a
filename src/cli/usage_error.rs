//! One error style for the whole program: clap's usage errors (a paragraph, a usage block and
//! "For more information...") are rewritten into ork's own `ork: error: ...` lines, so a bad
//! flag and a bad file read alike: `ork: error: MESSAGE`, then `ork: tip:` and `ork: usage:`
//! lines where clap has them. Help and version output are left as clap prints them.

use clap::error::ErrorKind;

/// The lines to print for a clap error that is a usage error, or `None` for help/version output
/// (which clap prints itself, exit status 0).
pub fn lines(err: &clap::Error) -> Option<Vec<String>> {
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        return None;
    }
    Some(reformat(&err.to_string()))
}

/// Rewrite clap's rendered text (paragraphs separated by blank lines).
fn reformat(text: &str) -> Vec<String> {
    let mut message = Vec::new();
    let mut out = Vec::new();
    let mut usage = None;
    for (i, para) in text.split("\n\n").enumerate() {
        let para = para.trim();
        if let Some(u) = para.strip_prefix("Usage: ") {
            usage = Some(u.split_whitespace().collect::<Vec<_>>().join(" "));
        } else if let Some(tip) = para.strip_prefix("tip: ") {
            out.push(format!("ork: tip: {tip}"));
        } else if para.starts_with("For more information") || para.is_empty() {
        } else if i == 0 {
            let first = para.strip_prefix("error: ").unwrap_or(para);
            message.extend(first.lines().map(str::trim).filter(|l| !l.is_empty()));
        } else {
            out.extend(para.lines().map(|l| format!("ork: {}", l.trim())));
        }
    }
    // A heading line and its items ("...not provided:", "--key <KEY>", ...) become one line.
    let message = match message.split_first() {
        Some((head, items)) if !items.is_empty() => format!("{head} {}", items.join(", ")),
        Some((head, _)) => head.to_string(),
        None => String::new(),
    };
    let mut lines = vec![format!("ork: error: {message}")];
    lines.extend(out);
    if let Some(u) = usage {
        let sub = u.split(' ').take_while(|w| !w.starts_with(['-', '<', '['])).collect::<Vec<_>>().join(" ");
        lines.push(format!("ork: usage: {u}  (more: {sub} --help)"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_paragraphs_become_ork_lines() {
        let text =
            "error: the following required arguments were not provided:\n  --key <KEY>\n  --neighbors <FILE>\n\n\
                    Usage: ork router --key <KEY> --neighbors <FILE>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            reformat(text),
            vec![
                "ork: error: the following required arguments were not provided: --key <KEY>, --neighbors <FILE>",
                "ork: usage: ork router --key <KEY> --neighbors <FILE>  (more: ork router --help)",
            ]
        );
        let text = "error: unexpected argument '--kee' found\n\n  tip: a similar argument exists: '--key'\n\n\
                    Usage: ork router --key <KEY> --neighbors <FILE>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            reformat(text),
            vec![
                "ork: error: unexpected argument '--kee' found",
                "ork: tip: a similar argument exists: '--key'",
                "ork: usage: ork router --key <KEY> --neighbors <FILE>  (more: ork router --help)",
            ]
        );
        let text = "error: invalid value 'z' for '--padding-rate <CELLS/S>': invalid float literal\n\n\
                    For more information, try '--help'.\n";
        assert_eq!(
            reformat(text),
            vec!["ork: error: invalid value 'z' for '--padding-rate <CELLS/S>': invalid float literal"]
        );
    }
}
