// Package rules is ddbsync's rule set: what a copy keeps, reshapes and
// re-keys on its way from the source table to the target. Every path
// applies it: the Lambda and `ddbsync run` ([RuleSet.Writes] and [Batch],
// through replicate.Options.Rules; docs/rules.md), backfill (scan and
// export load), verify, repair and redrive with --rules FILE
// ([RuleSet.Target]; [RuleSet.SourceKey] maps a target item back to its
// source key; docs/rules-commands.md), create-target ([RuleSet.TargetKeyTypes])
// and the event filter push-down ([RuleSet.PushDown]); `ddbsync rules check`
// and `ddbsync rules apply` show it.
//
// # The rule set
//
// A rule set is YAML or JSON ([Parse]; [ParseEnv] for an environment
// variable, the JSON or its base64): a list of rules applied in order,
// each doing one thing, and the TTL-delete policy:
//
//	rules:
//	  - name: only-acme
//	    filter: tenant == "acme"            # keep only matching items
//	  - exclude: [email, address.street]    # or include: [...]
//	  - rename: {status: state}
//	  - set: {total_cents: "total * 100"}   # computed attributes
//	  - key: {pk: 'tenant + "#" + string(id)'}
//	ttl_deletes: skip                        # or replicate (the default)
//
// Errors name the source, the line and the rule ([Error]). Paths are
// dotted (address.city); a rename or set may move values in and out of
// maps. A key rule gives the target key in full (its attribute names are
// the target table's key); without one the target key is the source key
// as the renames move it, so compute a key attribute with a key rule, not
// a set rule.
//
// # Expressions
//
// Conditions and computed values are CEL (cel.dev/cel-go), compiled once
// by Parse and evaluated with a cost limit ([DefaultCostLimit]). An
// expression reads the item as item (item.address.city, has(item.email))
// or a top-level attribute by its bare name; a missing bare name is an
// evaluation error, which fails the record, so test presence with has().
// Attribute values become CEL values as follows: S string, B bytes, BOOL
// bool, NULL null, L list, M map, SS/NS/BS lists of their members, and N
// a [Decimal]: an exact decimal, so numbers beyond float64 (38 digits)
// compare, add, subtract and multiply exactly against decimals, ints and
// doubles. Put the attribute on the left of a comparison with a literal
// (total > 100), or write decimal("…") for the literal. Computed values
// go back as S, N (exact), B, BOOL, NULL, L and M; a computed value is
// never a set. Rules that do not compute an attribute leave its value as
// it was, sets and all.
//
// # Changes
//
// [RuleSet.Writes] turns a stream change into target writes so that the
// copy stays correct as items move in and out of the filter and between
// target keys; [Batch] finds two source items written to one target key
// in a batch. TTL deletes are REMOVE records whose userIdentity is
// {"type":"Service","principalId":"dynamodb.amazonaws.com"}:
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/time-to-live-ttl-streams.html
package rules
