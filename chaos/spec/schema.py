"""The experiment file's JSON schema (draft 2020-12). Steps are told apart by `type`, with an
if/then per type so an error names the missing or wrong key, not "does not match oneOf".
Names of faults, probes, actions and verdict metrics are checked by the loader against their
registries, not listed here."""

from __future__ import annotations

from typing import Any

from chaos.durations import DURATION_PATTERN
from chaos.targets import SELECTION_PATTERN, TARGETS

DURATION: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "pattern": DURATION_PATTERN},
        {"type": "number", "minimum": 0},
    ],
    "description": "a duration: 30s, 500ms, 2m or a number of seconds",
}

TOLERANCE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "equals": {},
        "in": {"type": "array"},
        "min": {"type": "number"},
        "max": {"type": "number"},
        "path": {"type": "string"},
    },
}



def per_target(bounds: dict[str, Any]) -> dict[str, Any]:
    """`per-target`: the bounds that differ on a target, by target name (chaos/targets), e.g.
    `per-target: {aws: {within: 150s}}` (chaos.spec.targets applies them)."""
    return {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {name: {"type": "object", "additionalProperties": False,
                              "minProperties": 1, "properties": bounds}
                       for name in TARGETS.names()},
    }


PROBE_STEP: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "probe"],
    "properties": {
        "type": {"const": "probe"},
        "name": {"type": "string", "minLength": 1},
        "probe": {"type": "string"},
        "params": {"type": "object"},
        "tolerance": TOLERANCE,
        "within": DURATION,
        "interval": DURATION,
        "save-as": {"type": "string"},
        "per-target": per_target({"within": DURATION}),
    },
}

STEP_TYPES = ("fault", "probe", "pause", "wait-for-faults", "action")

STEP: dict[str, Any] = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"enum": list(STEP_TYPES)}},
    "allOf": [
        {
            "if": {"properties": {"type": {"const": "fault"}}, "required": ["type"]},
            "then": {
                "additionalProperties": False,
                "required": ["name", "fault", "duration"],
                "properties": {
                    "type": {}, "name": {"type": "string", "minLength": 1},
                    "fault": {"type": "string"},
                    "target": {"type": "string", "pattern": SELECTION_PATTERN},
                    "params": {"type": "object"},
                    "duration": DURATION,
                    "wait": {"type": "boolean"},
                },
            },
        },
        {
            "if": {"properties": {"type": {"const": "probe"}}, "required": ["type"]},
            "then": PROBE_STEP,
        },
        {
            "if": {"properties": {"type": {"const": "pause"}}, "required": ["type"]},
            "then": {
                "additionalProperties": False,
                "required": ["duration"],
                "properties": {"type": {}, "name": {"type": "string"}, "duration": DURATION},
            },
        },
        {
            "if": {"properties": {"type": {"const": "wait-for-faults"}}, "required": ["type"]},
            "then": {
                "additionalProperties": False,
                "properties": {"type": {}, "name": {"type": "string"}, "timeout": DURATION,
                               "per-target": per_target({"timeout": DURATION})},
            },
        },
        {
            "if": {"properties": {"type": {"const": "action"}}, "required": ["type"]},
            "then": {
                "additionalProperties": False,
                "required": ["name", "action"],
                "properties": {
                    "type": {}, "name": {"type": "string", "minLength": 1},
                    "action": {"type": "string"},  # a name in chaos.actions.ACTIONS
                    "params": {"type": "object"},
                    "save-as": {"type": "string"},
                },
            },
        },
    ],
}

STACK: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"args": {"type": "array", "items": {"type": "string"}}},
}

VERDICT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["metric"],
    "properties": {
        "metric": {"type": "string"},
        "title": {"type": "string"},
        "params": {"type": "object"},
        "equals": {}, "in": {"type": "array"},
        "min": {"type": "number"}, "max": {"type": "number"},
        "per-target": per_target({"min": {"type": "number"}, "max": {"type": "number"},
                                  "title": {"type": "string"}}),
    },
}

EXPERIMENT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "gameday chaos experiment",
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "title", "steady-state-hypothesis", "method"],
    "properties": {
        "version": {"const": 1},
        "title": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "seed": {"type": "integer", "minimum": 0},
        "stack": STACK,
        "load": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "driver": {"enum": ["builtin", "locust", "none"]},
                "users": {"type": "integer", "minimum": 1, "maximum": 50},
                "think-time": DURATION,
                "warmup-orders": {"type": "integer", "minimum": 0},
                "warmup-timeout": DURATION,
                "settle-timeout": DURATION,
                "locustfile": {"type": "string"},
                "spawn-rate": {"type": "number", "exclusiveMinimum": 0},
                "browse": {"type": "boolean"},
            },
        },
        "observe": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "interval": DURATION,
                "breakers": {"type": "array", "items": {"type": "string"}},
                "alarms": {"type": "array", "items": {"type": "string"}},
                "iterator-age": {"type": "array", "items": {"type": "string"}},
                "services": {"type": "array", "items": {"type": "string"}},
            },
        },
        "steady-state-hypothesis": {
            "type": "object",
            "additionalProperties": False,
            "required": ["title", "probes"],
            "properties": {
                "title": {"type": "string"},
                "probes": {"type": "array", "items": PROBE_STEP},
                "after": {"type": "array", "items": PROBE_STEP},
            },
        },
        "method": {"type": "array", "minItems": 1, "items": STEP},
        "rollbacks": {"type": "array", "items": STEP},
        "stop-conditions": {
            "type": "object",
            "additionalProperties": False,
            "anyOf": [{"required": ["guards"]}, {"required": ["alarms"]}],
            "properties": {
                "interval": DURATION,
                "guards": {"type": "array", "items": PROBE_STEP},
                "alarms": {"type": "array", "minItems": 1,
                           "items": {"type": "string", "minLength": 1}},
            },
        },
        "verdicts": {"type": "array", "items": VERDICT},
        "error-budget": {
            "type": "object",
            "additionalProperties": False,
            "required": ["ratio"],
            "properties": {
                "ratio": {"type": "number", "exclusiveMinimum": 0, "maximum": 1,
                          "description": "the share of the probe load's requests that may "
                                         "fail over the run, e.g. 0.05"},
            },
        },
        "control": {
            "type": "object",
            "additionalProperties": False,
            "required": ["description"],
            "properties": {
                "description": {"type": "string"},
                "stack": STACK,
                "before-method": {"type": "array", "items": STEP},
                "expect-failing": {"type": "array", "minItems": 1,
                                   "items": {"type": "string"}},
            },
        },
    },
}
