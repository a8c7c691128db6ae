use super::*;

#[test]
fn parses_a_file() {
    let text = r#"
        listen = "[::1]:7000"
        [[module]]
        name = "photos"
        path = "/srv/photos"
        read_only = true
        comment = "family"
        [[module]]
        name = "scratch"
        path = "rel/dir"
        allow_owner = true
        allow_setid = false
    "#;
    let c = DaemonConfig::from_toml(text, Path::new("/etc/blit")).unwrap();
    assert_eq!(c.listen, Some("[::1]:7000".parse().unwrap()));
    assert_eq!(c.modules.len(), 2);
    assert_eq!(c.modules[0].path, Path::new("/srv/photos"));
    assert!(c.modules[0].read_only);
    assert_eq!(c.modules[0].comment, "family");
    assert_eq!(c.modules[1].path, Path::new("/etc/blit/rel/dir"));
    assert!(!c.modules[1].read_only);
    assert!(!c.modules[0].allow_owner && !c.modules[0].allow_setid, "both default to false");
    assert!(c.modules[1].allow_owner && !c.modules[1].allow_setid);
    assert_eq!(DaemonConfig::from_toml("", Path::new("/")).unwrap(), DaemonConfig::new());
    let c = DaemonConfig::from_toml("max_sessions = 3\nidle_timeout = 7\n", Path::new("/")).unwrap();
    assert_eq!((c.max_sessions, c.idle_timeout), (3, Duration::from_secs(7)));
    assert_eq!(DaemonConfig::new().max_sessions, DEFAULT_MAX_SESSIONS);
}

#[test]
fn refuses_mistakes_with_clear_messages() {
    let bad = [
        ("[[module]]\nname = \"a\"\npath = \"/x\"\nreadonly = true\n", "line 4, column 1: unknown field `readonly`"),
        ("[[module]]\nname = \"a\"\n", "missing field `path`"),
        ("listen = \"nowhere\"\n", "not a listen address"),
        ("\nmax_sessions = 0\n", "line 2, column 1: max_sessions is 0"),
        ("idle_timeout = 0\n", "idle_timeout is 0"),
        ("tls_cert = \"c.pem\"\n", "tls_cert is set but tls_key is not"),
        ("tls_key = \"k.pem\"\n", "tls_key is set but tls_cert is not"),
        ("auth_secret_file = 3\n", "auth_secret_file"),
        (
            "[[module]]\nname = \"a\"\npath = \"/x\"\nallow_owner = \"yes\"\n",
            "line 4, column 15 (`module[0].allow_owner`): invalid type: string \"yes\", expected a boolean",
        ),
        ("[[module]]\nname = \"a/b\"\npath = \"/x\"\n", "not a valid module name"),
        (
            "[[module]]\nname = \"a\"\npath = \"/x\"\n[[module]]\nname = \"a\"\npath = \"/y\"\n",
            "line 5, column 1: module `a` is defined twice",
        ),
    ];
    for (text, expect) in bad {
        let e = DaemonConfig::from_toml(text, Path::new("/")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains(expect), "{text:?}: {e}");
    }
}

#[test]
fn parses_module_flags() {
    let mut c = DaemonConfig::new();
    c.add_module_spec("a=/srv/a").unwrap();
    c.add_module_spec("b=/srv/b:ro").unwrap();
    c.add_module_spec("c=/srv/c:rw").unwrap();
    c.add_module_spec("d=/srv/with=equals:x").unwrap();
    c.add_module_spec("e=/srv/e:rw,allow_owner").unwrap();
    c.add_module_spec("f=/srv/f:allow_setid,ro").unwrap();
    c.add_module_spec("g=/srv/g:ro,allowowner").unwrap();
    let got: Vec<_> = c
        .modules
        .iter()
        .map(|m| (m.name.as_str(), m.path.to_str().unwrap(), m.read_only, m.allow_owner, m.allow_setid))
        .collect();
    assert_eq!(
        got,
        [
            ("a", "/srv/a", false, false, false),
            ("b", "/srv/b", true, false, false),
            ("c", "/srv/c", false, false, false),
            ("d", "/srv/with=equals:x", false, false, false),
            ("e", "/srv/e", false, true, false),
            ("f", "/srv/f", true, false, true),
            ("g", "/srv/g:ro,allowowner", false, false, false),
        ]
    );
    for bad in ["noequals", "h=", "h=:ro", "=/x", "a=/again"] {
        assert!(c.add_module_spec(bad).is_err(), "{bad}");
    }
    assert_eq!(parse_listen("127.0.0.1:9031").unwrap().port(), 9031);
}

#[test]
fn allow_xattrs_takes_names_and_namespace_prefixes_and_points_at_a_bad_one() {
    let base = Path::new("/etc/blit");
    let ok = "[[module]]\nname = \"a\"\npath = \"/x\"\nallow_xattrs = [\"security.selinux\", \"trusted.*\"]\n";
    let c = DaemonConfig::from_toml(ok, base).unwrap();
    assert_eq!(c.modules[0].allow_xattrs, ["security.selinux", "trusted.*"]);
    for bad in ["\"\"", "\"selinux\"", "\".x\"", "\"trusted.\"", "\"tru*.x\"", "\"a.b*c\""] {
        let text = format!("[[module]]\nname = \"a\"\npath = \"/x\"\nallow_xattrs = [{bad}]\n");
        let e = DaemonConfig::from_toml(&text, base).unwrap_err().to_string();
        assert!(e.contains("line 4") && e.contains("is not an attribute name"), "{bad}: {e}");
    }
}
