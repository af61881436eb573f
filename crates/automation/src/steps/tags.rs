//! The `add_tag` and `remove_tag` steps: the tag change and the step's result.

use super::contact::team_contact_id;
use super::{fail, string_list, Flow, StepCtx, StepResult};
use crate::model::{Step, StepKind};
use parley_core::contact::{self, Contact};
use parley_core::ValidationError;
use parley_store::automations::TagEdit;
use parley_store::StoreError;
use serde_json::{json, Value};
use uuid::Uuid;

/// A tag step's change, made in the same transaction as its start record (`Store::advance`):
/// `None` for other steps, an error when its input names no contact.
pub fn tag_change(team_id: &str, step: &Step, input: &Value) -> Option<Result<TagEdit, String>> {
    let add = match step.kind {
        StepKind::AddTag { .. } => true,
        StepKind::RemoveTag { .. } => false,
        _ => return None,
    };
    Some(team_contact_id(input).map(|contact_id| TagEdit {
        team_id: team_id.to_string(),
        contact_id,
        change: Box::new(tag_edit(add, string_list(&input["tags"]))),
    }))
}

/// The new tag list from the old one.
fn tag_edit(add: bool, tags: Vec<String>) -> impl Fn(&[String]) -> Result<Vec<String>, ValidationError> {
    move |old| {
        if add {
            contact::merge_tags(old, &contact::clean_tags(&tags)?)
        } else {
            // As the API's remove: trimmed like the tags that were added, in linear time.
            Ok(contact::remove_tags(old, &tags))
        }
    }
}

/// A tag step's result from what its change found.
pub fn tagged(
    step: &Step,
    contact_id: Uuid,
    changed: Result<Result<Contact, ValidationError>, StoreError>,
) -> StepResult {
    match changed {
        Ok(Ok(c)) => StepResult::Done {
            output: json!({ "contact_id": c.id, "tags": c.tags }),
            flow: Flow::Goto(step.next.clone()),
            contact: Some(c),
        },
        Ok(Err(e)) => fail(e.to_string()),
        Err(StoreError::NotFound) => fail(format!("contact {contact_id} not found")),
        Err(e) => fail(e.to_string()),
    }
}

/// A tag step on its own (the engine makes the change with the step's start instead; see
/// [`tag_change`]).
pub(super) async fn change_tags(ctx: &StepCtx<'_>, step: &Step, input: &Value) -> StepResult {
    let t = match tag_change(ctx.team_id, step, input) {
        Some(Ok(t)) => t,
        Some(Err(e)) => return fail(e),
        None => return fail(format!("{} is not a tag step", step.kind.type_name())),
    };
    let id = t.contact_id;
    let changed = ctx.store.change_tags(ctx.team_id, id, t.change).await;
    tagged(step, id, changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removed_tag_is_trimmed_as_an_added_one_was() {
        let old = vec!["vip".to_string(), "lead".to_string()];
        let added = tag_edit(true, vec![" new ".into()])(&old).unwrap();
        assert_eq!(added, ["vip", "lead", "new"]);
        let removed = tag_edit(false, vec![" vip".into(), "new ".into()])(&added).unwrap();
        assert_eq!(removed, ["lead"]);
    }
}
