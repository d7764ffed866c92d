use super::*;

#[test]
fn a_transaction_id_tells_when_it_was_made() {
    let id = transaction_id(1_700_000_000_123, [9; ID_RANDOM_BYTES]);
    assert_eq!(transaction_time(&id), Some(1_700_000_000_123));
    assert!(is_transaction_id(&id));
    for other in ["", "tx_", "tx", &id[3..], "tx_ZZZZZZZZZZZZZZZZZZZZZZZZZZ"] {
        assert_eq!(transaction_time(other), None, "{other}");
    }
}
use crate::workflow::starter_workflows;

fn request(value: Value) -> TriggerRequest {
    serde_json::from_value(value).unwrap()
}

/// [`compose`] for recipients with no profile who allow every channel.
fn compose_for(trigger: &ValidTrigger, workflow: &Workflow, allows_http: bool) -> Result<Composed, TriggerError> {
    let ids = RecipientIds::new(None, "tx");
    compose(trigger, workflow, &json!({}), &ids, 0, allows_http, |_| json!({}), |_, _| true, || [0; 10])
}

#[test]
fn a_payload_is_bounded_alone_and_by_its_recipients() {
    let padded = |bytes: usize| json!({"pad": "x".repeat(bytes)});
    let to = |count: usize| (0..count).map(|index| format!("u{index}")).collect::<Vec<_>>();
    let error = validate(request(json!({"workflow": "welcome", "to": "a", "payload": padded(70_000)}))).unwrap_err();
    assert!(matches!(error, TriggerError::PayloadTooLarge { .. }), "{error}");
    assert_eq!(error.status_and_code(), (413, ErrorCode::PayloadTooLarge));
    assert_eq!(error.field(), "payload");
    // 40 KB is fine for a few recipients, not for a thousand.
    assert!(validate(request(json!({"workflow": "welcome", "to": to(10), "payload": padded(40_000)}))).is_ok());
    let many = validate(request(json!({"workflow": "welcome", "to": to(1000), "payload": padded(40_000)})));
    assert!(matches!(many, Err(TriggerError::PayloadTooLarge { .. })));
    assert!(validate(request(json!({"workflow": "welcome", "to": to(1000), "payload": padded(2_000)}))).is_ok());
}

#[test]
fn rendered_fields_are_bounded() {
    let trigger = validate(request(json!({"workflow": "big", "to": "a", "payload": {"n": 5000}}))).unwrap();
    let big = |subject: &str, body: &str| Workflow {
        key: "big".to_owned(),
        definition: serde_json::from_value(
            json!({"name": "Big", "steps": [{"type": "in_app", "subject": subject, "body": body}]}),
        )
        .unwrap(),
    };
    let compose_with = |workflow: &Workflow| compose_for(&trigger, workflow, false);
    let error = compose_with(&big("{{ 'x' * payload.n }}", "b")).unwrap_err();
    assert!(matches!(&error, TriggerError::RenderedTooLarge { field, .. } if field == "subject"), "{error}");
    assert_eq!(error.status_and_code(), (422, ErrorCode::TemplateRenderFailed));
    assert!(compose_with(&big("s", "{{ 'x' * payload.n }}")).is_ok(), "a body holds more");
    let body = compose_with(&big("s", "{{ 'x' * 70000 }}")).unwrap_err();
    assert!(matches!(&body, TriggerError::RenderedTooLarge { field, .. } if field == "body"), "{body}");
}

#[test]
fn preview_renders_what_the_first_recipient_would_receive() {
    let trigger = validate(request(json!({
        "workflow": "welcome",
        "to": [{"subscriber_id": "ada", "first_name": "Ada"}, "bob"],
        "payload": {"name": "Ada"}
    })))
    .unwrap();
    let workflow = starter_workflows().into_iter().find(|workflow| workflow.key == "welcome").unwrap();
    let preview = preview(&workflow, &trigger, &json!({})).unwrap();
    let in_app = preview.in_app.unwrap();
    assert!(in_app.subject.contains("Ada") || in_app.body.contains("Ada"), "{in_app:?}");
    assert!(preview.webhooks.is_empty());
}

#[test]
fn preview_names_the_missing_variable() {
    let input = serde_json::from_value(json!({
        "name": "Order",
        "steps": [{"type": "in_app", "subject": "Order {{ payload.order.id }}", "body": "Thanks"}]
    }))
    .unwrap();
    let workflow = Workflow::from_input(input, Some("order")).unwrap();
    let trigger = validate(request(json!({"workflow": "order", "to": "ada", "payload": {}}))).unwrap();
    let error = preview(&workflow, &trigger, &json!({})).unwrap_err();
    assert!(error.to_string().contains("payload.order"), "{error}");
}

#[test]
fn topics_are_recipients_of_their_own() {
    let trigger = validate(request(json!({
        "workflow": "welcome",
        "to": [{"topic": "team-a"}, "ada", {"topic": "team-b"}, {"topic": "team-a"}]
    })))
    .unwrap();
    let topics: Vec<&str> = trigger.topics.iter().map(TopicKey::as_str).collect();
    assert_eq!(topics, ["team-a", "team-b"]);
    assert_eq!(trigger.recipients.len(), 1);
    // A topic alone is enough.
    assert!(validate(request(json!({"workflow": "welcome", "to": [{"topic": "all"}]}))).unwrap().recipients.is_empty());
    let bad = validate(request(json!({"workflow": "welcome", "to": ["ada", {"topic": "no spaces"}]}))).unwrap_err();
    assert_eq!(bad.field(), "to.1.topic");
    let many: Vec<Value> = (0..=topic::MAX_TOPICS_PER_TRIGGER).map(|n| json!({"topic": format!("t{n}")})).collect();
    let too_many = validate(request(json!({"workflow": "welcome", "to": many}))).unwrap_err();
    assert_eq!(too_many.field(), "to");
    assert_eq!(too_many, TriggerError::TooManyTopics);
    // A topic object takes nothing else; a subscriber object is not a topic.
    assert!(serde_json::from_value::<TriggerRequest>(json!({"workflow": "w", "to": [{"topic": "a", "x": 1}]})).is_err());
}

#[test]
fn transaction_ids_are_recognised() {
    let id = transaction_id(1_700_000_000_000, [3; ID_RANDOM_BYTES]);
    assert!(is_transaction_id(&id));
    assert!(!is_transaction_id(id.trim_start_matches("tx_")));
    assert!(!is_transaction_id("tx_"));
    assert!(!is_transaction_id(&format!("{id}x")));
}

#[test]
fn valid_trigger_composes_one_message_per_distinct_recipient() {
    let trigger =
        validate(request(json!({"workflow": "welcome", "to": ["a", "b", "a"], "payload": {"name": "Ada"}}))).unwrap();
    assert_eq!(trigger.recipients.len(), 2);
    let mut counter = 0u8;
    let messages = compose(
        &trigger,
        &starter_workflows()[0],
        &json!({}),
        &RecipientIds::new(None, "tx"),
        1_000,
        false,
        |_| json!({}),
        |_, _| true,
        || {
            counter += 1;
            [counter; ID_RANDOM_BYTES]
        },
    )
    .unwrap()
    .messages;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].subject, "Welcome, Ada!");
    assert_eq!(messages[1].subscriber.as_str(), "b");
    assert_ne!(messages[0].id, messages[1].id);
}

#[test]
fn a_channel_turned_off_is_skipped_and_reported() {
    let trigger =
        validate(request(json!({"workflow": "welcome", "to": ["a", "b"], "payload": {"name": "x"}}))).unwrap();
    let composed = compose(
        &trigger,
        &starter_workflows()[0],
        &json!({}),
        &RecipientIds::new(None, "tx"),
        0,
        false,
        |_| json!({}),
        |id, _| id.as_str() != "b",
        || [0; 10],
    )
    .unwrap();
    assert_eq!(composed.messages.len(), 1);
    assert_eq!(composed.messages[0].subscriber.as_str(), "a");
    assert_eq!(composed.skipped, [(SubscriberId::parse("b").unwrap(), Channel::InApp)]);
}

#[test]
fn single_recipient_and_missing_payload() {
    let trigger = validate(request(json!({"workflow": "welcome", "to": "a"}))).unwrap();
    assert_eq!(trigger.payload, json!({}));
    let error = compose_for(&trigger, &starter_workflows()[0], false).unwrap_err();
    assert_eq!(error.field(), "payload");
    assert!(error.to_string().contains("payload.name"));
}

#[test]
fn templates_see_the_subscriber_profile() {
    let workflow = Workflow::from_input(
        serde_json::from_value(json!({"key": "w", "name": "W", "steps": [{"type": "in_app",
            "subject": "Hi {{ subscriber.first_name | default('there') }} ({{ subscriber.id }})",
            "body": "{{ subscriber.data.plan | upper }}"}]}))
        .unwrap(),
        None,
    )
    .unwrap();
    let trigger = validate(request(json!({"workflow": "w", "to": ["ada", "bob"]}))).unwrap();
    let profile = |id: &SubscriberId| {
        if id.as_str() == "ada" {
            json!({"first_name": "Ada", "data": {"plan": "pro"}})
        } else {
            json!({"first_name": null, "data": {"plan": "free"}})
        }
    };
    let messages = compose(
        &trigger,
        &workflow,
        &json!({}),
        &RecipientIds::new(None, "tx"),
        0,
        false,
        profile,
        |_, _| true,
        || [0; 10],
    )
    .unwrap()
    .messages;
    assert_eq!(messages[0].subject, "Hi Ada (ada)");
    assert_eq!(messages[0].body, "PRO");
    assert_eq!(messages[1].subject, "Hi  (bob)");
}

#[test]
fn refusals_name_their_field() {
    let cases = [
        (json!({"workflow": "Bad Key", "to": "a"}), "workflow"),
        (json!({"workflow": "w", "to": []}), "to"),
        (json!({"workflow": "w", "to": vec!["x"; 1001]}), "to"),
        (json!({"workflow": "w", "to": [{"subscriber_id": "a", "email": "nope"}]}), "to.0.email"),
        (json!({"workflow": "w", "to": ["ok", "not ok"]}), "to.1"),
        (json!({"workflow": "w", "to": "a", "payload": [1]}), "payload"),
        (json!({"workflow": "w", "to": "a", "actor": "me"}), "actor"),
    ];
    for (body, field) in cases {
        assert_eq!(validate(request(body.clone())).unwrap_err().field(), field, "{body}");
    }
}

#[test]
fn recipient_objects_carry_profiles() {
    let trigger =
        validate(request(json!({"workflow": "w", "to": ["a", {"subscriber_id": "b", "first_name": "Bo"}, "b"]})))
            .unwrap();
    assert_eq!(trigger.recipients.iter().map(SubscriberId::as_str).collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(trigger.profiles.len(), 1);
    assert_eq!(trigger.profiles[0].1.first_name.as_deref(), Some("Bo"));
}

#[test]
fn payloads_are_checked_against_the_schema() {
    let workflow = Workflow::from_input(
        serde_json::from_value(
            json!({"key": "w", "name": "W", "payload_schema": {"type": "object", "required": ["id"]},
            "steps": [{"type": "in_app", "subject": "{{ payload.id }}", "body": "b"}]}),
        )
        .unwrap(),
        None,
    )
    .unwrap();
    let trigger = validate(request(json!({"workflow": "w", "to": "a", "payload": {}}))).unwrap();
    let error = compose_for(&trigger, &workflow, false).unwrap_err();
    assert_eq!(error.field(), "payload.id");
    let bad_schema = serde_json::from_value(json!({"key": "w", "name": "W", "payload_schema": {"pattern": "x"},
        "steps": [{"type": "in_app", "subject": "s", "body": "b"}]}))
    .unwrap();
    assert_eq!(Workflow::from_input(bad_schema, None).unwrap_err().field(), "payload_schema");
}

#[test]
fn unknown_fields_are_refused() {
    let result = serde_json::from_value::<TriggerRequest>(json!({"workflow": "w", "to": "a", "paylod": {}}));
    assert!(result.is_err());
}

#[test]
fn rendered_links_a_feed_may_not_carry_are_refused() {
    let workflow = Workflow::from_input(
        serde_json::from_value(json!({
            "name": "Links",
            "steps": [{"type": "in_app", "subject": "s", "body": "b", "avatar": "{{ payload.avatar }}",
                       "actions": [{"label": "Open", "url": "{{ payload.url }}"}]}]
        }))
        .unwrap(),
        Some("links"),
    )
    .unwrap();
    let run = |payload: Value, allows_http: bool| {
        let trigger = validate(request(json!({"workflow": "links", "to": ["a"], "payload": payload}))).unwrap();
        compose_for(&trigger, &workflow, allows_http)
    };
    assert!(run(json!({"avatar": "https://cdn.example/a.png", "url": "/orders/1"}), false).is_ok());
    assert!(run(json!({"avatar": "http://localhost/a.png", "url": "/x"}), true).is_ok());
    for (payload, field) in [
        (json!({"avatar": "https://a", "url": "javascript:alert(1)"}), "actions.0.url"),
        (json!({"avatar": "data:image/svg+xml,<svg onload=alert(1)>", "url": "/x"}), "avatar"),
        (json!({"avatar": "http://cdn.example/a.png", "url": "/x"}), "avatar"),
        (json!({"avatar": "https://a", "url": "//evil.example"}), "actions.0.url"),
    ] {
        match run(payload, false) {
            Err(error @ TriggerError::UnsafeLink { .. }) => {
                assert_eq!(error.status_and_code(), (422, ErrorCode::UnsafeLink));
                assert!(error.to_string().contains(field), "{error}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn what_every_recipient_gets_alike_is_checked_before_a_fan_out() {
    let workflow = |subject: &str, avatar: &str, url: &str| {
        Workflow::from_input(
            serde_json::from_value(json!({
                "name": "Shared",
                "steps": [{"type": "in_app", "subject": subject, "body": "b", "avatar": avatar,
                           "actions": [{"label": "Open", "url": url}]}]
            }))
            .unwrap(),
            Some("shared"),
        )
        .unwrap()
    };
    let check = |workflow: &Workflow, payload: Value| {
        let trigger =
            validate(request(json!({"workflow": "shared", "to": [{"topic": "news"}], "payload": payload}))).unwrap();
        check_shared(workflow, &trigger, &json!({}), false)
    };
    let plain = workflow("Hi {{ subscriber.first_name }}", "{{ payload.avatar }}", "{{ payload.url }}");
    // The subject reads the recipient: it is not rendered here, where there is none.
    assert!(check(&plain, json!({"avatar": "", "url": "/orders/1"})).is_ok());
    match check(&plain, json!({"avatar": "", "url": "javascript:alert(1)"})) {
        Err(error @ TriggerError::UnsafeLink { .. }) => assert_eq!(error.field(), "payload"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        check(&plain, json!({"avatar": "data:text/html,x", "url": "/x"})),
        Err(TriggerError::UnsafeLink { field, .. }) if field == "avatar"
    ));
    // A payload value the shared templates need, missing.
    assert!(matches!(check(&plain, json!({"avatar": ""})), Err(TriggerError::Render(_))));
    // A link built from the recipient's profile is checked per recipient, as pages render it.
    let personal = workflow("Hi", "{{ payload.avatar }}", "{{ subscriber.data.url }}");
    assert!(check(&personal, json!({"avatar": ""})).is_ok());
    let mixed = workflow("{{ payload.title }}", "{{ subscriber.avatar }}", "https://example.com/{{ payload.id }}");
    assert!(check(&mixed, json!({"title": "t", "id": 7})).is_ok());
    assert!(matches!(check(&mixed, json!({"id": 7})), Err(TriggerError::Render(_))));
}
