"""Fast item building: pools of pre-generated values, merged per item.

Calling one generator per property for every item is too slow to serve a million leads, so values are
generated once into pools (per world, lazily) and each item picks entries from them: every property of
the schema is still considered, with tens of thousands of combinations, and items stay deterministic.
"""

from typing import Any

from .clock import iso_ms
from .generate import P_NULL, P_OPTIONAL_PRESENT, Ctx, Gen, Refs, build, compile_object, is_time, nullable
from .rand import Rng


def pool_context(refs: Refs) -> Ctx:
    """The context pooled values are generated in: the whole data span, references to generated items."""
    return Ctx(refs, -1, refs.origin_ms, refs.anchor_ms, "")


class Pool:
    """Pre-generated values of one generator, picked per item: realistic variety at a tiny cost."""

    def __init__(self, gen: Gen, key: int, size: int = 64) -> None:
        self.gen = gen
        self.key = key
        self.size = size
        self.values: list[Any] | None = None

    def pick(self, rng: Rng, ctx: Ctx) -> Any:
        values = self.values
        if values is None:
            pool_ctx = pool_context(ctx.refs)
            values = self.values = [
                self.gen(Rng(ctx.refs.seed, self.key, k), pool_ctx) for k in range(self.size)
            ]
        return values[int(rng.random() * self.size)]


class Factory:
    """Builds items of one object schema quickly enough to serve a million of them.

    The properties are split into a few groups; each group has a pool of partial items generated with
    the per-property generators (``compile_object``), and an item merges one random entry of each pool,
    so every property of the schema is still considered, with millions of combinations. Top-level
    date-times are not pooled: each entry holds a fraction, turned into an instant between the item's
    creation and the end of its data.
    """

    def __init__(
        self, schema: dict[str, Any], skip: frozenset[str], key: int, groups: int = 2, pool_size: int = 256
    ) -> None:
        self.schema = schema
        self.skip = skip
        self.key = key
        self.groups = groups
        self.pool_size = pool_size
        self.pools: list[list[tuple[dict[str, Any], list[tuple[str, float | None]]]]] | None = None

    def _build(self, refs: Refs) -> list[list[tuple[dict[str, Any], list[tuple[str, float | None]]]]]:
        required = set(self.schema.get("required", []))
        names = [n for n in self.schema.get("properties", {}) if n not in self.skip]
        properties = self.schema["properties"]
        ctx = pool_context(refs)
        pools = []
        for group in range(self.groups):
            mine = names[group :: self.groups]
            statics = {n: properties[n] for n in mine if not is_time(n, properties[n])}
            plan = compile_object({"properties": statics, "required": sorted(required & set(statics))})
            times = [(n, _presence(n in required, nullable(properties[n]))) for n in mine if n not in statics]
            entries = []
            for k in range(self.pool_size):
                rng = Rng(refs.seed, self.key, group, k)
                stamped: list[tuple[str, float | None]] = []
                for name, (p_present, p_null) in times:
                    u = rng.random()
                    if u < p_present:
                        stamped.append((name, None if u < p_present * p_null else rng.random() ** 2))
                entries.append((build(plan, rng, ctx), stamped))
            pools.append(entries)
        return pools

    def make(self, item: dict[str, Any], rng: Rng, ctx: Ctx) -> dict[str, Any]:
        """Add the pooled properties to ``item`` (which already holds the key and creation time)."""
        pools = self.pools
        if pools is None:
            pools = self.pools = self._build(ctx.refs)
        created = ctx.created_ms
        span = ctx.until_ms - created
        size = self.pool_size
        for pool in pools:
            values, stamped = pool[int(rng.random() * size)]
            item.update(values)
            for name, u in stamped:
                item[name] = None if u is None else iso_ms(created + int(u * span))
        return item


def _presence(required: bool, nullable: bool) -> tuple[float, float]:
    if required:
        return 1.0, (P_NULL / 3 if nullable else 0.0)
    return P_OPTIONAL_PRESENT, (P_NULL if nullable else 0.0)
