//! The page: a template with the style, the script and the run's data inlined, so it works
//! from `file://` on a machine without network.

use super::model::Page;
use super::read::History;
use crate::output::Sink;

const TEMPLATE: &str = include_str!("page/report.html");
const STYLE: &str = include_str!("page/report.css");
const SCRIPT: &str = include_str!("page/report.js");

/// The page's title: the job and where it ran.
pub fn title(history: &History) -> String {
    let jobs: Vec<&str> = history.runs.values().map(|r| r.job.as_str()).collect();
    let host = history
        .runs
        .values()
        .next()
        .map(|r| r.host.as_str())
        .unwrap_or("");
    let mut title = format!("supervisor run {}", jobs.join(", "));
    if !host.is_empty() {
        title.push_str(" on ");
        title.push_str(host);
    }
    title
}

/// Writes the whole page.
pub fn render(title: &str, data: &Page, out: &mut Sink) -> Result<(), String> {
    let json = serde_json::to_string(data).map_err(|e| format!("cannot encode the report: {e}"))?;
    // `<` only occurs inside JSON strings, where `\u003c` means the same: no `</script>` or
    // `<!--` can end the data block early.
    let json = json.replace('<', "\\u003c");
    let title = escape_html(title);
    let mut parts = TEMPLATE.split("__DATA__");
    let (head, tail) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    out.write(
        head.replace("__TITLE__", &title)
            .replace("__STYLE__", STYLE)
            .as_bytes(),
    );
    out.write(json.as_bytes());
    out.write(tail.replace("__SCRIPT__", SCRIPT).as_bytes());
    Ok(())
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        let page = [super::TEMPLATE, super::STYLE, super::SCRIPT].concat();
        for outside in [
            "http:",
            "https:",
            "src=",
            "@import",
            "url(",
            "<link",
            "fetch(",
            "XMLHttpRequest",
        ] {
            assert!(!page.contains(outside), "the page refers to {outside}");
        }
    }
}
