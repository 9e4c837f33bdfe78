//! The `<files>` element: the files a dictionary renders (`<file>`) and
//! the services it names (`<service>`); EOLE's system settings are noted
//! and ignored.
//!
//! Its own file because file declarations have their own rules (octal
//! modes, a destination per file, redefinition) unrelated to variables.

use super::super::ItemKind;
use super::super::model::*;
use super::super::xml::Element;
use super::{FileCtx, Loader};

impl Loader {
    pub(super) fn read_files(&mut self, ctx: &FileCtx<'_>, el: &Element) {
        self.read_file_children(ctx, el, None);
    }

    /// The children of `<files>` (`container` is `None`) or of a
    /// `<container>` / `<all>` (`container` is its name).
    pub(super) fn read_file_children(
        &mut self,
        ctx: &FileCtx<'_>,
        el: &Element,
        container: Option<&str>,
    ) {
        for child in &el.children {
            match child.name.as_str() {
                "file" => self.read_file_decl(ctx, child, container),
                "service" => {
                    self.unknown_attrs(
                        ctx,
                        child,
                        &[
                            "servicelist",
                            "method",
                            "redefine",
                            "startlevel",
                            "stoplevel",
                            "in_container",
                            "instance_mode",
                        ],
                    );
                    let name = child.text.trim().to_string();
                    let svc = ServiceDecl {
                        name: name.clone(),
                        servicelist: child.attr("servicelist").map(str::to_string),
                        method: child.attr("method").map(str::to_string),
                        container: container.map(str::to_string),
                        loc: ctx.loc(child),
                    };
                    if name.is_empty() {
                        self.warn(
                            ctx.loc(child),
                            None,
                            "<service> has no service name; it is ignored",
                        );
                        continue;
                    }
                    let redefine = self
                        .bool_attr(ctx, child, "redefine", None)
                        .unwrap_or(false);
                    match self
                        .d
                        .services
                        .iter_mut()
                        .find(|s| s.name == name && s.container == svc.container)
                    {
                        Some(old) if redefine => *old = svc,
                        _ => self.d.services.push(svc),
                    }
                }
                "service_access" | "service_restriction" => {
                    self.read_firewall(ctx, child, container)
                }
                other => match ItemKind::from_element(other) {
                    Some(kind) => self.read_item(ctx, child, kind, container, None),
                    None => self.notice(
                        ctx.loc(child),
                        format!("unknown element <{other}> in <{}> is ignored", el.name),
                    ),
                },
            }
        }
    }

    fn read_file_decl(&mut self, ctx: &FileCtx<'_>, el: &Element, container: Option<&str>) {
        self.unknown_attrs(
            ctx,
            el,
            &[
                "name",
                "source",
                "mode",
                "owner",
                "group",
                "mkdir",
                "rm",
                "filelist",
                "name_type",
                "redefine",
                "instance_mode",
                "del_comment",
                "engine",
                "included",
            ],
        );
        let loc = ctx.loc(el);
        let Some(name) = el.attr("name").filter(|n| !n.trim().is_empty()) else {
            self.warn(
                loc,
                None,
                "<file> has no 'name' (its destination); it is ignored",
            );
            return;
        };
        let source = match el.attr("source") {
            Some(s) if !s.trim().is_empty() => s.to_string(),
            _ => name.rsplit('/').next().unwrap_or(name).to_string(),
        };
        let mode = match el.attr("mode") {
            None => None,
            Some(m) => match u32::from_str_radix(m.trim(), 8) {
                Ok(v) if v <= 0o7777 => Some(v),
                _ => {
                    // Rendered with another mode, a file meant to be 0600
                    // could be read by anyone: it is not rendered at all.
                    self.warn(
                        loc.clone(),
                        None,
                        format!(
                            "<file name='{name}'>: mode must be octal like 0644, found '{m}'; the file is not rendered"
                        ),
                    );
                    return;
                }
            },
        };
        let decl = FileDecl {
            name: name.to_string(),
            source,
            mode,
            owner: el.attr("owner").map(str::to_string),
            group: el.attr("group").map(str::to_string),
            mkdir: self.bool_attr(ctx, el, "mkdir", None).unwrap_or(false),
            rm: self.bool_attr(ctx, el, "rm", None).unwrap_or(false),
            filelist: el.attr("filelist").map(str::to_string),
            name_from_variable: el.attr("name_type") == Some("SymLinkOption"),
            container: container.map(str::to_string),
            instance_mode: el.attr("instance_mode").map(str::to_string),
            del_comment: el.attr("del_comment").map(str::to_string),
            loc,
        };
        let redefine = self.bool_attr(ctx, el, "redefine", None).unwrap_or(false);
        match self
            .d
            .files
            .iter_mut()
            .find(|f| f.name == decl.name && f.container == decl.container)
        {
            Some(old) if redefine => *old = decl,
            Some(old) => {
                let first = old.loc.clone();
                self.warn(
                    decl.loc,
                    None,
                    format!(
                        "file '{}' is declared twice (first at {first}); this declaration is ignored (use redefine=\"True\" to change it)",
                        decl.name
                    ),
                );
            }
            None => self.d.files.push(decl),
        }
    }
}
