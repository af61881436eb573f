//! Keypad presses as answers: yes/no and choices.

/// `1` is yes, `2` is no (as the agent says: "press 1 for yes, 2 for no").
pub fn dtmf_yes_no(key: char) -> Option<bool> {
    match key {
        '1' => Some(true),
        '2' => Some(false),
        _ => None,
    }
}

/// `1`..`9` pick the first to ninth of `count` choices.
pub fn dtmf_choice(key: char, count: usize) -> Option<usize> {
    let d = key.to_digit(10)? as usize;
    (1..=count.min(9)).contains(&d).then(|| d - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keypad() {
        assert_eq!(dtmf_yes_no('1'), Some(true));
        assert_eq!(dtmf_yes_no('2'), Some(false));
        assert_eq!(dtmf_yes_no('3'), None);
        assert_eq!(dtmf_choice('1', 3), Some(0));
        assert_eq!(dtmf_choice('3', 3), Some(2));
        assert_eq!(dtmf_choice('4', 3), None);
        assert_eq!(dtmf_choice('0', 3), None);
        assert_eq!(dtmf_choice('#', 3), None);
    }
}
