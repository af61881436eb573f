//! Dashboard accounts: what a member of a team may do there.

/// A user's role in one team. Owners manage members and invites; both manage the team's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Owner,
    Member,
}
str_enum!(Role { Owner = "owner", Member = "member" });

/// How an email address is compared and stored: trimmed and lowercased, so `Sam@Example.com`
/// and `sam@example.com ` are one account.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A plausible address: one `@` with text on both sides and a dot in the domain, at most 254
/// characters (RFC 5321). Deliverability is not the dashboard's to check.
pub fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_emails_normalize() {
        for r in [Role::Owner, Role::Member] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("admin"), None);
        assert_eq!(normalize_email("  Sam@Example.COM "), "sam@example.com");
        assert!(is_plausible_email("sam@example.com"));
        for bad in [
            "",
            "sam",
            "@example.com",
            "sam@",
            "sam@example",
            "sam@@example.com",
            "s am@example.com",
            "sam@.com",
        ] {
            assert!(!is_plausible_email(bad), "{bad}");
        }
    }
}
