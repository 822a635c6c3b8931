"""Write the hostile-input corpus (tests/hostile/<class>/...); run from anywhere:

    python tests/hostile/make_corpus.py

Every case is one file (a scenario, a `povsim compare` file or a scenario with an
`uncertainty:` block) whose header says how to run it and what must happen:

    # hostile: <what is wrong with it>
    # command: run | compare | sensitivity      (the command that must agree with validate)
    # args: <extra command-line arguments>      (optional; `-o DIR` relative to the case folder)
    # expect: refuse | ok                       (refuse: exit 2, one line, nothing written)
    # message: <text the one-line message must contain>   (repeatable)
    # cli-only: true                            (the file is fine: only the command line is bad,
                                                 so `povsim validate` must accept it)

CSV inputs (compositions, local targets) live in `<class>/data/` and are named by a case
scenario. Files are kept small: the bombs are built from aliases and nesting, not bytes.
tests/test_hostile.py runs every case through `povsim validate` and the command.
"""

from __future__ import annotations

import copy
import hashlib
import shutil
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
BASE = "../../../scenarios/baseline.yaml"  # from tests/hostile/<class>/
NL = b"\n"
SMALL_POP = {"size": 200, "horizon": 2}

INCOME = {
    "type": "income",
    "name": "cash",
    "start_year": 2019,
    "end_year": 2020,
    "effect": 1000,
    "effect_source": "test",
    "cost": {"per_participant": 1000},
}
HOUSING = {
    "type": "housing",
    "name": "warm",
    "start_year": 2019,
    "end_year": 2020,
    "effect": 0.8,
    "effect_source": "test",
    "cost": {"per_participant": 4000},
}
ACCESS = {
    "type": "access",
    "name": "htn",
    "start_year": 2019,
    "end_year": 2020,
    "effect": 0.9,
    "ltc_multiplier": 0.8,
    "effect_source": "test",
    "cost": {"per_participant": 100},
}

COMPARE = {
    "population": {"size": 200, "horizon": 3},
    "replicates": 1,
    "budget": {"per_year": 1_000_000, "years": 1, "start_year": 2020},
    "levers": {
        "smoking": {
            "type": "behaviour",
            "behaviour": "smoking",
            "uptake": 0.3,
            "effect": 0.2,
            "effect_source": "test",
            "cost": {"per_participant": 300},
        },
        "homes": {
            "type": "housing",
            "uptake": 0.3,
            "effect": 0.8,
            "effect_source": "test",
            "cost": {"per_participant": 4000},
        },
    },
    "strategies": {
        "universal": {"rule": "universal"},
        "targeted": {"rule": "targeted"},
        "prop": {"rule": "proportionate", "weights": [5, 4, 3, 2, 1]},
        "split": {
            "rule": "split",
            "split": {"smoking": [0.5, 0, 0, 0, 0], "homes": [0.5, 0, 0, 0, 0]},
        },
    },
    "optimiser": {"enabled": False},
    "economics": {"aversions": [0, 1]},
}

UNCERTAIN = {
    "arms.*.interventions.warm.effect": {
        "dist": "uniform",
        "min": 0.5,
        "max": 0.9,
        "source": "test",
    }
}

SEX_Q = [(s, q) for s in ("male", "female") for q in range(1, 6)]


def merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def header(
    why: str,
    command: str = "run",
    expect: str = "refuse",
    messages=(),
    args: str = "",
    cli_only: bool = False,
) -> str:
    lines = [f"# hostile: {why}", f"# command: {command}"]
    if args:
        lines.append(f"# args: {args}")
    lines.append(f"# expect: {expect}")
    lines += [f"# message: {m}" for m in messages]
    if cli_only:
        lines.append("# cli-only: true")
    return "\n".join(lines) + "\n"


def dump(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False, width=100, allow_unicode=True)


class Corpus:
    def __init__(self) -> None:
        self.count: dict[str, int] = {}

    def text(
        self, cls: str, name: str, body: str | bytes, why: str, line_of: bytes | None = None, **kw
    ) -> None:
        """``line_of``: bytes whose line (in the whole file) the message must name."""
        path = HERE / cls / name
        path.parent.mkdir(parents=True, exist_ok=True)
        body = body if isinstance(body, bytes) else body.encode()
        if line_of is not None:  # the header gets one more line, whatever the number
            kw["messages"] = [*kw.get("messages", ()), "line ?"]
            whole = header(why, **kw).encode() + body
            line = whole[: whole.index(line_of)].count(NL) + 1
            kw["messages"][-1] = f"line {line}"
        path.write_bytes(header(why, **kw).encode() + body)
        self.count[cls] = self.count.get(cls, 0) + 1

    def scenario(
        self,
        cls: str,
        name: str,
        why: str,
        over: dict | None = None,
        arms: dict | None = None,
        **kw,
    ) -> None:
        data = {
            "extends": BASE,
            "name": name.replace(".yaml", "")[:60],
            "population": dict(SMALL_POP),
        }
        if arms is not None:
            data["arms"] = arms
        data = merge(data, over or {})
        self.text(cls, name, dump(data), why, **kw)

    def arm(self, cls: str, name: str, why: str, iv: dict, **kw) -> None:
        self.scenario(cls, name, why, arms={"a": {"interventions": [iv]}}, **kw)

    def sens(self, cls: str, name: str, why: str, uncertainty: dict, **kw) -> None:
        self.scenario(
            cls,
            name,
            why,
            {"uncertainty": uncertainty},
            arms={"a": {"interventions": [HOUSING]}},
            command="sensitivity",
            **kw,
        )

    def compare(self, cls: str, name: str, why: str, over: dict, **kw) -> None:
        data = merge({"extends": BASE, "name": name.replace(".yaml", "")}, COMPARE)
        data = merge(data, over)
        self.text(cls, name, dump(data), why, command="compare", **kw)

    def local(
        self, cls: str, name: str, why: str, composition: str, targets: str | None = None, **kw
    ) -> None:
        over: dict = {"population": {"area": "local", "composition": composition}}
        if targets:
            over["calibration"] = {"targets": targets}
        self.scenario(cls, name, why, over, **kw)

    def csv(self, cls: str, name: str, text: str | bytes) -> None:
        path = HERE / cls / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())


def composition(first_count: str = "1000", first_age_min: str = "0") -> str:
    rows = ["sex,age_min,age_max,quintile,count"]
    for i, (s, q) in enumerate(SEX_Q):
        rows.append(
            f"{s},{first_age_min if i == 0 else 0},49,{q},{first_count if i == 0 else 1000}"
        )
        rows.append(f"{s},50,100,{q},800")
    return "\n".join(rows) + "\n"


def targets(value: str = "74.5") -> str:
    return (
        "measure,sex,quintile,value,period,source\n"
        f"le0,male,1,{value},2017-19,test\n"
        "le0,female,1,78.9,2017-19,test\n"
    )


def non_finite(c: Corpus) -> None:
    k = "non_finite"
    c.scenario(
        k,
        "size_inf.yaml",
        "population.size .inf",
        {"population": {"size": float("inf")}},
        messages=["population.size"],
    )
    c.scenario(k, "seed_nan.yaml", "seed .nan", {"seed": float("nan")}, messages=["seed"])
    c.scenario(
        k,
        "param_nan.yaml",
        "a parameter .nan",
        {"parameters": {"income_persistence": float("nan")}},
        messages=["parameters.income_persistence"],
    )
    c.scenario(
        k,
        "param_inf.yaml",
        "a relative risk .inf",
        {"parameters": {"rr.mortality.smoking_current": float("inf")}},
        messages=["parameters.rr.mortality.smoking_current"],
    )
    c.scenario(
        k,
        "param_list_neg_inf.yaml",
        "a per-quintile parameter list with -.inf",
        {"parameters": {"inverse_care_weights": [float("-inf"), 1, 1, 1, 1]}},
        messages=["parameters.inverse_care_weights"],
    )
    c.scenario(
        k,
        "param_1e308.yaml",
        "a parameter 1e308",
        {"parameters": {"median_income_gbp": 1e308}},
        messages=["parameters.median_income_gbp"],
    )
    c.scenario(
        k,
        "feedback_adjustment_inf.yaml",
        "capacity adjustment_years .inf",
        {"feedbacks": {"capacity": {"adjustment_years": float("inf")}}},
        messages=["feedbacks.capacity.adjustment_years"],
    )
    for field, value, iv in (
        ("effect", float("nan"), HOUSING),
        ("coverage", float("nan"), HOUSING),
        ("uptake", float("nan"), HOUSING),
        ("decay", float("nan"), HOUSING),
        ("ltc_multiplier", float("nan"), ACCESS),
        ("capacity_added", float("inf"), ACCESS),
        ("capacity_added", 1e308, ACCESS),
        ("capacity", float("nan"), HOUSING),
        ("budget_per_year", float("nan"), HOUSING),
        ("effect", float("nan"), INCOME),
    ):
        tag = "nan" if value != value else "inf" if value == float("inf") else "1e308"
        c.arm(
            k,
            f"{iv['type']}_{field}_{tag}.yaml",
            f"intervention {field} {value}",
            {**iv, field: value},
            messages=[f"arms.a.interventions.0.{field}"],
        )
    for field, value in (
        ("fixed_per_year", float("inf")),
        ("per_participant", float("nan")),
        ("diminishing_returns", float("nan")),
        ("fixed_per_year", 1e308),
    ):
        tag = "nan" if value != value else "inf" if value == float("inf") else "1e308"
        c.arm(
            k,
            f"cost_{field}_{tag}.yaml",
            f"cost.{field} {value}",
            {**HOUSING, "cost": {field: value}},
            messages=[f"arms.a.interventions.0.cost.{field}"],
        )
    for w, tag in (
        ([float("nan"), 1, 1, 1, 1], "nan"),
        ([float("inf"), 1, 1, 1, 1], "inf"),
        ([1e308, 1e308, 1, 1, 1], "1e308"),
    ):
        c.arm(
            k,
            f"targeting_weights_{tag}.yaml",
            f"proportionate weights with {tag}",
            {**HOUSING, "targeting": {"rule": "proportionate", "weights": w}},
            messages=["arms.a.interventions.0.targeting.weights"],
        )
    # uncertainty blocks
    for name, dist in (
        ("uniform_min_nan", {"dist": "uniform", "min": float("nan"), "max": 0.9}),
        ("uniform_max_inf", {"dist": "uniform", "min": 0.5, "max": float("inf")}),
        (
            "triangular_mode_nan",
            {"dist": "triangular", "min": 0.5, "mode": float("nan"), "max": 0.9},
        ),
        ("normal_sd_inf", {"dist": "normal", "mean": 0.7, "sd": float("inf")}),
        ("beta_alpha_nan", {"dist": "beta", "alpha": float("nan"), "beta": 2}),
    ):
        c.sens(
            k,
            f"uncertainty_{name}.yaml",
            f"uncertainty {name}",
            {"arms.*.interventions.warm.effect": {**dist, "source": "test"}},
            messages=["uncertainty."],
        )
    c.sens(
        k,
        "uncertainty_lognormal_1e308.yaml",
        "lognormal high 1e308 on a relative risk",
        {
            "parameters.rr.poor_health.cold_home": {
                "dist": "lognormal",
                "low": 1.5,
                "high": 1e308,
                "source": "test",
            }
        },
        messages=["uncertainty."],
    )
    # compare files
    c.compare(
        k,
        "budget_per_year_nan.yaml",
        "budget.per_year .nan",
        {"budget": {"per_year": float("nan")}},
        messages=["budget.per_year"],
    )
    c.compare(
        k,
        "budget_per_year_1e308.yaml",
        "budget.per_year 1e308",
        {"budget": {"per_year": 1e308}},
        messages=["budget.per_year"],
    )
    c.compare(
        k,
        "strategy_weights_nan.yaml",
        "proportionate need weights with .nan",
        {"strategies": {"prop": {"weights": [float("nan"), 4, 3, 2, 1]}}},
        messages=["strategies.prop.weights"],
    )
    c.compare(
        k,
        "strategy_split_nan.yaml",
        "a budget split with .nan",
        {
            "strategies": {
                "split": {
                    "split": {"smoking": [float("nan"), 0, 0, 0, 0], "homes": [0.5, 0, 0, 0, 0]}
                }
            }
        },
        messages=["strategies.split.split"],
    )
    c.compare(
        k,
        "lever_shares_nan.yaml",
        "lever_shares .nan",
        {"lever_shares": {"smoking": float("nan"), "homes": 1}},
        messages=["lever_shares"],
    )
    c.compare(
        k,
        "strategy_lever_shares_inf.yaml",
        "a strategy's lever_shares .inf",
        {"strategies": {"universal": {"lever_shares": {"smoking": float("inf"), "homes": 1}}}},
        messages=["strategies.universal.lever_shares"],
    )
    c.compare(
        k,
        "aversions_nan.yaml",
        "inequality aversions with .nan",
        {"economics": {"aversions": [0, float("nan")]}},
        messages=["economics.aversions"],
    )
    c.compare(
        k,
        "thresholds_inf.yaml",
        "thresholds with .inf",
        {"economics": {"thresholds": [20000, float("inf")]}},
        messages=["economics.thresholds"],
    )
    c.compare(
        k,
        "discount_rate_nan.yaml",
        "discount_rate_costs .nan",
        {"economics": {"discount_rate_costs": float("nan")}},
        messages=["economics.discount_rate_costs"],
    )
    c.compare(
        k,
        "objective_aversion_nan.yaml",
        "objective.aversion .nan",
        {"objective": {"aversion": float("nan")}},
        messages=["objective.aversion"],
    )
    c.compare(
        k,
        "objective_max_cost_inf.yaml",
        "objective.max_cost_per_qaly .inf",
        {"objective": {"max_cost_per_qaly": float("inf")}},
        messages=["objective.max_cost_per_qaly"],
    )
    c.compare(
        k,
        "optimiser_levels_nan.yaml",
        "optimiser.levels with .nan",
        {"optimiser": {"enabled": True, "levels": [float("nan"), 1.0]}},
        messages=["optimiser.levels"],
    )
    c.compare(
        k,
        "optimiser_step_nan.yaml",
        "optimiser.step .nan",
        {"optimiser": {"step": float("nan")}},
        messages=["optimiser.step"],
    )
    c.compare(
        k,
        "lever_cost_inf.yaml",
        "a lever's cost.per_participant .inf",
        {"levers": {"smoking": {"cost": {"per_participant": float("inf")}}}},
        messages=["levers.smoking.cost.per_participant"],
    )
    c.compare(
        k,
        "lever_effect_nan.yaml",
        "a lever's effect .nan",
        {"levers": {"homes": {"effect": float("nan")}}},
        messages=["levers.homes.effect"],
    )
    # composition CSV
    for tag, value in (
        ("nan", "nan"),
        ("inf", "inf"),
        ("neg_inf", "-inf"),
        ("1e308", "1e308"),
        ("NaN_word", "NaN"),
    ):
        c.csv(k, f"comp_count_{tag}.csv", composition(first_count=value))
        c.local(
            k,
            f"composition_count_{tag}.yaml",
            f"composition count {value}",
            f"data/comp_count_{tag}.csv",
            messages=["population.composition", f"comp_count_{tag}.csv", "count"],
        )
    c.csv(k, "comp_age_nan.csv", composition(first_age_min="nan"))
    c.local(
        k,
        "composition_age_nan.yaml",
        "composition age_min nan",
        "data/comp_age_nan.csv",
        messages=["population.composition", "age_min"],
    )
    # local targets CSV
    c.csv(k, "comp_ok.csv", composition())
    # a local fit (written by `povsim calibrate --scenario`) with a NaN shift, matching files
    c.csv(k, "targets_ok.csv", targets())
    nan5 = [float("nan"), 0.0, 0.0, 0.0, 0.0]
    fit = {
        "targets_sha256": hashlib.sha256(targets().encode()).hexdigest(),
        "composition_sha256": hashlib.sha256(composition().encode()).hexdigest(),
        "local": {
            "mortality_shift": {"male": nan5, "female": [0.0] * 5},
            "health_shift": {"male": [0.0] * 5, "female": [0.0] * 5},
        },
    }
    c.csv(k, "targets_ok.fitted.yaml", dump(fit))
    c.local(
        k,
        "fitted_shift_nan.yaml",
        "a local fit with a .nan mortality shift",
        "data/comp_ok.csv",
        "data/targets_ok.csv",
        messages=["calibration", "local.mortality_shift.male[0]", "not a finite number"],
    )
    for tag, value in (("nan", "nan"), ("inf", "inf"), ("1e308", "1e308")):
        c.csv(k, f"targets_{tag}.csv", targets(value))
        c.local(
            k,
            f"targets_value_{tag}.yaml",
            f"local target value {value}",
            "data/comp_ok.csv",
            f"data/targets_{tag}.csv",
            messages=["calibration.targets", f"targets_{tag}.csv", "value"],
        )


def alias_bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines)


def dos(c: Corpus) -> None:
    k = "dos"
    bomb = alias_bomb()
    body = (
        f"extends: {BASE}\nname: bomb\npopulation: {{size: 200, horizon: 2}}\n"
        "x-anchors:\n" + "\n".join("  " + ln for ln in bomb.splitlines()) + "\ndescription: *a9\n"
    )
    c.text(
        k,
        "alias_bomb_description.yaml",
        body,
        "billion laughs: 9^10 strings by aliases, in a string field",
        messages=["alias"],
    )
    body = (
        f"extends: {BASE}\nname: bomb\npopulation: {{size: 200, horizon: 2}}\n"
        "x0: &d0 [{type: housing, start_year: 2019, end_year: 2020, effect: 0.5, "
        "effect_source: x}]\n"
        + "".join(f"x{j}: &d{j} [" + ", ".join([f"*d{j - 1}"] * 10) + "]\n" for j in range(1, 10))
        + "arms: {a: {interventions: *d9}}\n"
    )
    c.text(
        k,
        "alias_bomb_arms.yaml",
        body,
        "alias bomb of 10^9 interventions in an arm",
        messages=["alias"],
    )
    c.text(
        k,
        "recursive_alias.yaml",
        f"extends: {BASE}\nname: loop\n"
        "population: {size: 200, horizon: 2}\ndescription: &r [*r]\n",
        "a list that contains itself (recursive alias)",
        messages=["alias"],
    )
    deep = "[" * 3000 + "]" * 3000
    c.text(
        k,
        "deep_list.yaml",
        f"extends: {BASE}\nname: deep\npopulation: {{size: 200, horizon: 2}}\n"
        f"description: {deep}\n",
        "3,000-deep nested list",
        messages=["nest"],
    )
    deep = "{a: " * 3000 + "1" + "}" * 3000
    c.text(
        k,
        "deep_mapping.yaml",
        f"extends: {BASE}\nname: deep\npopulation: {{size: 200, horizon: 2}}\nparameters: {deep}\n",
        "3,000-deep nested mapping",
        messages=["nest"],
    )
    c.text(
        k,
        "deep_block_list.yaml",
        f"extends: {BASE}\nname: deep\npopulation: {{size: 200, horizon: 2}}\n"
        f"description:\n{'- ' * 1500}x\n",
        "1,500-deep compact block sequence",
        messages=["nest"],
    )
    c.local(
        k,
        "composition_dev_zero.yaml",
        "composition: /dev/zero (endless bytes)",
        "/dev/zero",
        messages=["population.composition", "/dev/zero"],
    )
    c.csv(k, "comp_ok.csv", composition())
    c.local(
        k,
        "targets_dev_zero.yaml",
        "calibration.targets: /dev/zero",
        "data/comp_ok.csv",
        "/dev/zero",
        messages=["calibration.targets", "/dev/zero"],
    )
    c.scenario(
        k,
        "extends_dev_zero.yaml",
        "extends: /dev/zero",
        {"extends": "/dev/zero"},
        messages=["extends", "/dev/zero", "not a regular file"],
    )
    c.local(
        k,
        "composition_dev_urandom.yaml",
        "composition: /dev/urandom",
        "/dev/urandom",
        messages=["population.composition", "/dev/urandom"],
    )
    c.sens(
        k,
        "sensitivity_huge_n.yaml",
        "sensitivity -n 1000000000 (15 GiB design)",
        UNCERTAIN,
        args="--method sobol -n 1000000000",
        cli_only=True,
        messages=["-n"],
    )
    c.sens(
        k,
        "sensitivity_huge_n_psa.yaml",
        "psa -n 4000000000",
        UNCERTAIN,
        args="--method psa -n 4000000000",
        cli_only=True,
        messages=["-n"],
    )
    c.sens(
        k,
        "sensitivity_huge_n_morris.yaml",
        "morris -n 2000000000",
        UNCERTAIN,
        args="--method morris -n 2000000000",
        cli_only=True,
        messages=["-n"],
    )
    c.compare(
        k,
        "optimiser_levels_many.yaml",
        "optimiser with 2,000 budget levels",
        {"optimiser": {"enabled": True, "levels": [round((i + 1) / 2000, 6) for i in range(2000)]}},
        messages=["optimiser.levels"],
    )
    strategies = {f"s{i}": {"rule": "universal"} for i in range(400)}
    c.compare(
        k,
        "strategies_many.yaml",
        "400 strategies, each simulated",
        {"strategies": strategies},
        messages=["strategies"],
    )
    arms = {f"a{i}": {"interventions": [HOUSING]} for i in range(500)}
    c.scenario(k, "arms_many.yaml", "500 arms, each simulated", arms=arms, messages=["arms"])
    c.text(
        k,
        "interventions_many.yaml",
        f"extends: {BASE}\nname: many\npopulation: {{size: 200, horizon: 2}}\n"
        "arms:\n  a:\n    interventions:\n      - &w {type: housing, start_year: 2019, "
        "end_year: 2020, effect: 0.8, effect_source: test}\n" + "      - *w\n" * 1999,
        "2,000 interventions in one arm (by alias)",
        messages=["arms.a.interventions"],
    )
    unc = {
        f"arms.a.interventions.{i}.effect": {
            "dist": "uniform",
            "min": 0.5,
            "max": 0.9,
            "source": "test",
        }
        for i in range(300)
    }
    ivs = [{**HOUSING, "name": f"w{i}"} for i in range(300)]
    c.scenario(
        k,
        "uncertainty_many.yaml",
        "300 uncertain inputs",
        {"uncertainty": unc},
        arms={"a": {"interventions": ivs}},
        command="sensitivity",
        messages=["uncertainty"],
    )


def yaml_class(c: Corpus) -> None:
    k = "yaml"
    head = f"extends: {BASE}\nname: dup\n"
    c.text(
        k,
        "duplicate_horizon.yaml",
        head + "population:\n  size: 200\n  horizon: 2\n  horizon: 100\n",
        "duplicate key: horizon: 2 then horizon: 100",
        messages=["population.horizon", "duplicate"],
    )
    c.text(
        k,
        "duplicate_top_key.yaml",
        head + "population: {size: 200, horizon: 2}\nseed: 1\nseed: 2\n",
        "duplicate top-level key",
        messages=["seed", "duplicate"],
    )
    c.text(
        k,
        "duplicate_arm.yaml",
        head + "population: {size: 200, horizon: 2}\narms:\n"
        "  a: {interventions: []}\n  a: {description: twice}\n",
        "duplicate arm name",
        messages=["arms.a", "duplicate"],
    )
    c.text(
        k,
        "duplicate_parameter.yaml",
        head + "population: {size: 200, horizon: 2}\n"
        "parameters:\n  income_sigma: 0.5\n  income_sigma: 0.7\n",
        "duplicate parameter",
        messages=["parameters.income_sigma", "duplicate"],
    )
    c.text(
        k,
        "duplicate_flow_key.yaml",
        head + "population: {size: 200, horizon: 2, size: 300}\n",
        "duplicate key in a flow mapping",
        messages=["population.size", "duplicate"],
    )
    c.text(
        k,
        "duplicate_merge_key.yaml",
        head + "base: &b {size: 200}\npopulation:\n  <<: *b\n  horizon: 2\n  horizon: 3\n",
        "duplicate key beside a merge key",
        messages=["population.horizon", "duplicate"],
    )
    c.text(
        k,
        "undecodable_latin1.yaml",
        head.encode() + b"population: {size: 200, horizon: 2}\ndescription: caf\xe9 in Leeds\n",
        "Latin-1 byte 0xe9 in a UTF-8 file",
        messages=["UTF-8"],
        line_of=b"caf",
    )
    c.text(
        k,
        "undecodable_first_line.yaml",
        b"\xff\xfen\x00a\x00m\x00e\x00",
        "UTF-16 bytes",
        messages=["UTF-8"],
    )
    c.text(
        k,
        "nul_byte.yaml",
        head.encode() + b"population: {size: 200, horizon: 2}\ndescription: a\x00b\n",
        "NUL byte in a value",
        line_of=b"a\x00b",
    )
    c.csv(k, "targets_nofit.csv", targets())
    c.local(
        k,
        "fit_missing.yaml",
        "local targets without the fit `run` needs (validate agrees)",
        "data/comp_ok.csv",
        "data/targets_nofit.csv",
        messages=["calibration", "local calibration not found"],
    )
    c.scenario(
        k,
        "extends_directory.yaml",
        "extends: a directory",
        {"extends": "."},
        messages=["extends", "directory"],
    )
    c.scenario(
        k,
        "extends_root.yaml",
        "extends: / (a directory)",
        {"extends": "/"},
        messages=["extends", "directory"],
    )
    c.local(
        k,
        "composition_directory.yaml",
        "composition: a directory",
        "data",
        messages=["population.composition", "directory"],
    )
    c.csv(k, "readme.txt", "this folder holds CSV inputs of the yaml cases\n")
    c.text(
        k,
        "python_tag.yaml",
        head + "population: {size: 200, horizon: 2}\n"
        "description: !!python/object/apply:os.system ['echo hacked']\n",
        "a python/object tag",
        line_of=b"!!python",
    )
    c.text(
        k,
        "two_documents.yaml",
        head + "population: {size: 200, horizon: 2}\n---\nname: second\n",
        "two YAML documents in one file",
        messages=["document"],
    )
    c.text(
        k,
        "unhashable_key.yaml",
        head + "population: {size: 200, horizon: 2}\n? [a, b]\n: c\n",
        "a list as a mapping key",
        line_of=b"? [a, b]",
    )
    c.text(
        k,
        "null_document.yaml",
        "~\n",
        "the document is null",
        messages=["top level must be a mapping"],
    )
    c.text(
        k,
        "tab_indent.yaml",
        head + "population:\n\tsize: 200\n",
        "tab indentation",
        line_of=b"\tsize",
    )
    c.text(
        k,
        "long_key.yaml",
        head + "population: {size: 200, horizon: 2}\n" + "k" * 5000 + ": 1\n",
        "a 5,000-character key (YAML allows 1,024)",
        messages=["invalid YAML"],
        line_of=b"kkkk",
    )
    c.text(
        k,
        "binary_name.yaml",
        f"extends: {BASE}\nname: !!binary aGVsbG8=\npopulation: {{size: 200, horizon: 2}}\n",
        "a !!binary name",
        messages=["name"],
    )
    c.text(
        k,
        "date_name.yaml",
        f"extends: {BASE}\nname: 2020-01-01\npopulation: {{size: 200, horizon: 2}}\n",
        "a date as the name",
        messages=["name"],
    )
    c.text(
        k,
        "type_name_arms_list.yaml",
        head + "population: {size: 200, horizon: 2}\narms: [1, 2]\n",
        "arms as a list (leaked a Python type name)",
        messages=["arms"],
    )
    c.text(
        k,
        "type_name_interventions.yaml",
        head + "population: {size: 200, horizon: 2}\narms: {a: {interventions: 5}}\n",
        "interventions as a number",
        messages=["arms.a.interventions"],
    )
    c.text(
        k,
        "type_name_uncertainty.yaml",
        head + "population: {size: 200, horizon: 2}\nuncertainty: 5\n",
        "uncertainty as a number",
        messages=["uncertainty"],
    )
    c.text(
        k,
        "type_name_quintiles.yaml",
        head + "population: {size: 200, horizon: 2}\n"
        "arms: {a: {interventions: [{type: housing, start_year: 2019, end_year: 2020, "
        "effect: 0.5, effect_source: x, targeting: {rule: quintiles, quintiles: 5}}]}}\n",
        "quintiles as a number",
        messages=["arms.a.interventions.0.targeting.quintiles"],
    )
    c.compare(
        k, "type_name_levers.yaml", "levers as a list", {"levers": [1, 2]}, messages=["levers"]
    )
    c.compare(
        k,
        "type_name_split.yaml",
        "split as a number",
        {"strategies": {"split": {"split": 5}}},
        messages=["strategies.split.split"],
    )
    c.text(
        k,
        "required_key_typo.yaml",
        f"extends: {BASE}\nnmae: typo\npopulation: {{size: 200, horizon: 2}}\n",
        "typo of the required key name",
        messages=["nmae", "did you mean `name`"],
    )
    c.arm(
        k,
        "required_key_typo_effect.yaml",
        "typo of the required key effect",
        {k2: v for k2, v in {**HOUSING, "efect": 0.5}.items() if k2 != "effect"},
        messages=["arms.a.interventions.0.efect", "did you mean `effect`"],
    )
    c.csv(k, "comp_latin1.csv", composition().replace("count", "count").encode() + b"# caf\xe9\n")
    c.local(
        k,
        "composition_undecodable.yaml",
        "composition CSV with a Latin-1 byte",
        "data/comp_latin1.csv",
        messages=["comp_latin1.csv", "UTF-8", "line 22"],
    )
    c.csv(k, "comp_nul.csv", composition().encode().replace(b"female,0,49,1", b"fem\x00ale,0,49,1"))
    c.local(
        k,
        "composition_nul.yaml",
        "composition CSV with a NUL byte",
        "data/comp_nul.csv",
        messages=["comp_nul.csv", "line 12"],
    )
    c.csv(k, "targets_latin1.csv", targets().encode().replace(b"test\nle0", b"t\xe9st\nle0"))
    c.csv(k, "comp_ok.csv", composition())
    c.local(
        k,
        "targets_undecodable.yaml",
        "targets CSV with a Latin-1 byte",
        "data/comp_ok.csv",
        "data/targets_latin1.csv",
        messages=["targets_latin1.csv", "UTF-8", "line 2"],
    )
    c.csv(
        k,
        "comp_quoted_newline.csv",
        composition().replace("female,0,49,1,1000", 'female,0,49,1,"10\n00"'),
    )
    c.local(
        k,
        "composition_quoted_newline.yaml",
        "a quoted newline inside a CSV count",
        "data/comp_quoted_newline.csv",
        messages=["comp_quoted_newline.csv", "row"],
    )


def names(c: Corpus) -> None:
    k = "names"
    c.scenario(
        k,
        "arm_name_newline.yaml",
        "an arm name with a newline",
        arms={"a\nb": {"interventions": [HOUSING]}},
        messages=["arms."],
    )
    c.scenario(
        k,
        "arm_name_trailing_newline.yaml",
        "an arm name ending in a newline",
        arms={"a\n": {"interventions": [HOUSING]}},
        messages=["arms."],
    )
    c.scenario(
        k,
        "name_trailing_newline.yaml",
        "a scenario name ending in a newline",
        {"name": "x\n"},
        messages=["name"],
    )
    c.compare(
        k,
        "lever_name_trailing_newline.yaml",
        "a lever name ending in a newline",
        {
            "levers": {"smoking\n": COMPARE["levers"]["smoking"]},
            "strategies": {"universal": {"rule": "universal"}},
        },
        messages=["levers."],
    )
    c.compare(
        k,
        "strategy_name_trailing_newline.yaml",
        "a strategy name ending in a newline",
        {"strategies": {"universal\n": {"rule": "universal"}}},
        messages=["strategies."],
    )
    c.scenario(
        k,
        "arm_name_slash.yaml",
        "an arm name with a path",
        arms={"../../x": {"interventions": [HOUSING]}},
        messages=["arms."],
    )
    c.arm(
        k,
        "intervention_name_newline.yaml",
        "an intervention name with a newline",
        {**HOUSING, "name": "w\nx"},
        messages=["arms.a.interventions.0.name"],
    )
    c.scenario(
        k,
        "area_name_newline.yaml",
        "area_name with a newline and a control character",
        {
            "population": {
                "area": "local",
                "composition": "data/comp_ok.csv",
                "area_name": "Leeds\n\x1b[31mred",
            }
        },
        messages=["population.area_name"],
    )
    c.csv(k, "comp_ok.csv", composition())
    c.scenario(k, "name_dotdot.yaml", "name `..`", {"name": ".."}, messages=["name"])
    c.scenario(k, "name_empty.yaml", "name ``", {"name": ""}, messages=["name"])
    c.scenario(k, "name_long.yaml", "a 500-character name", {"name": "n" * 500}, messages=["name"])
    c.compare(
        k,
        "lever_name_newline.yaml",
        "a lever name with a newline",
        {
            "levers": {"smo\nking": COMPARE["levers"]["smoking"]},
            "strategies": {"universal": {"rule": "universal"}},
        },
        messages=["levers."],
    )
    c.compare(
        k,
        "strategy_name_newline.yaml",
        "a strategy name with a newline",
        {"strategies": {"uni\nversal": {"rule": "universal"}}},
        messages=["strategies."],
    )
    c.sens(
        k,
        "uncertainty_path_newline.yaml",
        "an uncertainty path with a newline",
        {
            "arms.*.interventions.warm.effect\nx": {
                "dist": "uniform",
                "min": 0.5,
                "max": 0.9,
                "source": "test",
            }
        },
        messages=["uncertainty."],
    )
    c.scenario(
        k,
        "description_control_ok.yaml",
        "a description with a tab and unicode is fine",
        {"description": "Leeds\tcafé — 5 ★"},
        expect="ok",
    )
    c.arm(
        k,
        "effect_source_newline_ok.yaml",
        "a multi-line effect_source is fine (folded text)",
        {**HOUSING, "effect_source": "line one\nline two"},
        expect="ok",
    )


def bounds(c: Corpus) -> None:
    k = "bounds"
    c.scenario(k, "template_ok.yaml", "the corpus's scenario template runs", expect="ok")
    c.arm(k, "template_arm_ok.yaml", "the template with one arm runs", INCOME, expect="ok")
    c.compare(k, "template_compare_ok.yaml", "the corpus's compare template runs", {}, expect="ok")
    c.sens(
        k,
        "template_sensitivity_ok.yaml",
        "the corpus's sensitivity template runs",
        UNCERTAIN,
        expect="ok",
    )
    c.sens(
        k,
        "beta_prior_1e300.yaml",
        "beta prior alpha = beta = 1e300",
        {
            "arms.*.interventions.warm.effect": {
                "dist": "beta",
                "alpha": 1e300,
                "beta": 1e300,
                "source": "test",
            }
        },
        messages=["uncertainty.", "alpha"],
    )
    c.sens(
        k,
        "beta_prior_tiny.yaml",
        "beta prior alpha = 1e-300",
        {
            "arms.*.interventions.warm.effect": {
                "dist": "beta",
                "alpha": 1e-300,
                "beta": 2,
                "source": "test",
            }
        },
        messages=["uncertainty.", "alpha"],
    )
    c.sens(
        k,
        "lognormal_huge_range.yaml",
        "lognormal 1e-300..1e300",
        {
            "parameters.rr.poor_health.cold_home": {
                "dist": "lognormal",
                "low": 1e-300,
                "high": 1e300,
                "source": "test",
            }
        },
        messages=["uncertainty."],
    )
    c.sens(
        k,
        "uniform_cost_huge.yaml",
        "uniform cost up to 1e300",
        {
            "arms.*.interventions.warm.cost.per_participant": {
                "dist": "uniform",
                "min": 0,
                "max": 1e300,
                "source": "test",
            }
        },
        messages=["uncertainty."],
    )
    c.arm(
        k,
        "capacity_inf.yaml",
        "capacity .inf",
        {**HOUSING, "capacity": float("inf")},
        messages=["arms.a.interventions.0.capacity"],
    )
    c.arm(
        k,
        "capacity_1e300.yaml",
        "capacity 1e300",
        {**HOUSING, "capacity": 1e300},
        messages=["arms.a.interventions.0.capacity"],
    )
    c.arm(
        k,
        "budget_inf.yaml",
        "budget_per_year .inf",
        {**HOUSING, "budget_per_year": float("inf")},
        messages=["arms.a.interventions.0.budget_per_year"],
    )
    c.arm(
        k,
        "budget_1e300.yaml",
        "budget_per_year 1e300",
        {**HOUSING, "budget_per_year": 1e300},
        messages=["arms.a.interventions.0.budget_per_year"],
    )
    c.arm(
        k,
        "cost_inf.yaml",
        "cost.per_participant .inf",
        {**HOUSING, "cost": {"per_participant": float("inf")}},
        messages=["arms.a.interventions.0.cost.per_participant"],
    )
    c.arm(
        k,
        "cost_1e308.yaml",
        "cost.per_participant 1e308",
        {**HOUSING, "cost": {"per_participant": 1e308}},
        messages=["arms.a.interventions.0.cost.per_participant"],
    )
    c.arm(
        k,
        "income_effect_inf.yaml",
        "income effect .inf",
        {**INCOME, "effect": float("inf")},
        messages=["arms.a.interventions.0.effect"],
    )
    c.arm(
        k,
        "income_effect_1e308.yaml",
        "income effect 1e308",
        {**INCOME, "effect": 1e308},
        messages=["arms.a.interventions.0.effect"],
    )
    c.arm(
        k,
        "diminishing_returns_ok.yaml",
        "diminishing_returns at its maximum is fine",
        {**HOUSING, "cost": {"per_participant": 100, "diminishing_returns": 100}},
        expect="ok",
    )
    c.arm(
        k,
        "income_effect_large_ok.yaml",
        "an income effect of £100,000 a year is allowed",
        {**INCOME, "effect": 100000},
        expect="ok",
    )
    c.arm(
        k,
        "capacity_added_huge.yaml",
        "capacity_added 1e300",
        {**ACCESS, "capacity_added": 1e300},
        messages=["arms.a.interventions.0.capacity_added"],
    )
    c.compare(
        k,
        "budget_per_year_inf.yaml",
        "budget.per_year .inf",
        {"budget": {"per_year": float("inf")}},
        messages=["budget.per_year"],
    )
    c.compare(
        k,
        "lever_capacity_inf.yaml",
        "a lever capacity .inf",
        {"levers": {"homes": {"capacity": float("inf")}}},
        messages=["levers.homes.capacity"],
    )
    c.compare(
        k,
        "thresholds_huge.yaml",
        "threshold 1e300 per QALY",
        {"economics": {"thresholds": [1e300]}},
        messages=["economics.thresholds"],
    )
    c.compare(
        k,
        "aversions_huge.yaml",
        "inequality aversion 1e300",
        {"economics": {"aversions": [0, 1e300]}},
        messages=["economics.aversions"],
    )
    c.compare(
        k,
        "split_weights_huge.yaml",
        "proportionate need weights 1e308",
        {"strategies": {"prop": {"weights": [1e308, 1e308, 1, 1, 1]}}},
        messages=["strategies.prop.weights"],
    )
    c.csv(k, "comp_count_huge.csv", composition(first_count="1e15"))
    c.local(
        k,
        "composition_count_huge.yaml",
        "a composition count of 1e15 persons",
        "data/comp_count_huge.csv",
        messages=["comp_count_huge.csv", "count"],
    )
    c.local(
        k,
        "composition_dev_null.yaml",
        "composition: /dev/null (empty, not a regular file)",
        "/dev/null",
        messages=["population.composition", "/dev/null", "not a regular file"],
    )


def messages(c: Corpus) -> None:
    k = "messages"
    c.scenario(
        k,
        "cli_size_too_small.yaml",
        "--size 5 on the command line",
        args="--size 5",
        cli_only=True,
        messages=["--size"],
    )
    c.scenario(
        k,
        "cli_size_huge.yaml",
        "--size 10^12 on the command line",
        args="--size 1000000000000",
        cli_only=True,
        messages=["--size"],
    )
    c.scenario(
        k,
        "cli_seed_huge.yaml",
        "--seed 2^70 on the command line",
        args="--seed 1180591620717411303424",
        cli_only=True,
        messages=["--seed"],
    )
    c.scenario(
        k,
        "cli_seed_negative.yaml",
        "--seed -1",
        args="--seed -1",
        cli_only=True,
        messages=["--seed"],
    )
    c.scenario(
        k,
        "cli_unknown_option.yaml",
        "an unknown option",
        args="--bogus",
        cli_only=True,
        messages=["--bogus"],
    )
    c.scenario(
        k,
        "cli_replicates_zero.yaml",
        "--replicates 0",
        args="--replicates 0",
        cli_only=True,
        messages=["--replicates"],
    )
    c.scenario(
        k,
        "cli_threads_text.yaml",
        "--threads abc",
        args="--threads abc",
        cli_only=True,
        messages=["--threads"],
    )
    c.sens(
        k,
        "cli_method_bad.yaml",
        "--method foo",
        UNCERTAIN,
        args="--method foo",
        cli_only=True,
        messages=["--method"],
    )
    c.sens(k, "cli_n_zero.yaml", "-n 0", UNCERTAIN, args="-n 0", cli_only=True, messages=["-n"])
    c.sens(
        k,
        "cli_size_sensitivity.yaml",
        "sensitivity --size 3",
        UNCERTAIN,
        args="--size 3",
        cli_only=True,
        messages=["--size"],
    )
    c.compare(
        k,
        "cli_compare_size.yaml",
        "compare --size 10^12",
        {},
        args="--size 1000000000000",
        cli_only=True,
        messages=["--size"],
    )
    c.compare(
        k,
        "cli_compare_seed.yaml",
        "compare --seed 2^64",
        {},
        args="--seed 18446744073709551616",
        cli_only=True,
        messages=["--seed"],
    )
    c.scenario(
        k,
        "missing_option_value.yaml",
        "-o without a value",
        args="-o",
        cli_only=True,
        messages=["-o"],
    )


def data_loss(c: Corpus) -> None:
    k = "data_loss"
    c.scenario(
        k,
        "own_folder.yaml",
        "-o onto the scenario's own folder",
        args="-o .",
        messages=["-o"],
        cli_only=True,
    )
    c.scenario(
        k,
        "parent_folder.yaml",
        "-o onto the folder above",
        args="-o ..",
        messages=["-o"],
        cli_only=True,
    )
    c.scenario(
        k,
        "user_folder.yaml",
        "-o onto a folder holding a user's notes",
        args="-o userdir",
        messages=["-o", "userdir"],
        cli_only=True,
    )
    c.scenario(
        k,
        "foreign_manifest.yaml",
        "-o onto a folder whose manifest.json is not povsim's",
        args="-o foreign",
        messages=["-o", "foreign"],
        cli_only=True,
    )
    c.local(
        k,
        "data_folder.yaml",
        "-o onto the folder of the composition CSV",
        "data/comp_ok.csv",
        args="-o data",
        messages=["-o", "data"],
        cli_only=True,
    )
    c.csv(k, "comp_ok.csv", composition())
    c.scenario(
        k,
        "output_is_file.yaml",
        "-o onto the scenario file itself",
        args="-o output_is_file.yaml",
        messages=["-o"],
        cli_only=True,
    )
    c.scenario(
        k,
        "povsim_folder_ok.yaml",
        "-o onto a folder an older povsim wrote: replaced",
        args="-o previous",
        expect="ok",
    )
    c.sens(
        k,
        "sensitivity_own_folder.yaml",
        "sensitivity -o .",
        UNCERTAIN,
        args="-o .",
        messages=["-o"],
        cli_only=True,
    )
    c.compare(
        k,
        "compare_own_folder.yaml",
        "compare -o .",
        {},
        args="-o .",
        messages=["-o"],
        cli_only=True,
    )
    c.compare(
        k,
        "compare_user_folder.yaml",
        "compare -o onto a user's folder",
        {},
        args="-o userdir",
        messages=["-o", "userdir"],
        cli_only=True,
    )
    for folder, files in (
        ("userdir", {"notes.txt": "my own notes, not povsim's\n"}),
        ("foreign", {"manifest.json": '{"project": "my thesis"}\n', "chapter1.md": "# draft\n"}),
        (
            "previous",
            {
                "manifest.json": '{"povsim_version": "0.1.0", '
                '"scenario": "povsim_folder_ok", "seed": 1}\n',
                "results.csv": "arm,year\n",
            },
        ),
    ):
        for name, text in files.items():
            p = HERE / k / folder / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)


def main() -> None:
    for cls in ("non_finite", "dos", "yaml", "names", "bounds", "messages", "data_loss"):
        shutil.rmtree(HERE / cls, ignore_errors=True)
    c = Corpus()
    for make in (non_finite, dos, yaml_class, names, bounds, messages, data_loss):
        make(c)
    for cls, n in c.count.items():
        print(f"{cls:12s} {n}")
    print(f"{'total':12s} {sum(c.count.values())}")


if __name__ == "__main__":
    main()
