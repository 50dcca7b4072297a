"""Generate the bundled starter set (``relemb/data/starter/``) from the table below.

The starter set is a small relation dataset written by the relemb developers (Apache-2.0, like the rest of
the project) so that the quick start and the tests run with no downloaded data. It is a demo set: never
report numbers on it as a benchmark.

Layout per relation (16 pairs, shuffled with a fixed seed): 8 training positives, 2 validation positives
(SemEval-style files ``train.jsonl``/``valid.jsonl``), 2 pairs for one validation analogy question and 4
pairs for four test analogy questions (``analogy_valid.jsonl``/``analogy_test.jsonl``). Negatives are the
relation's own pairs reversed (for asymmetric relations) and pairs of relations of another parent class;
analogy distractors come from three relations of other parent classes.

A development script, not part of the installed package. Regenerate (deterministic; the committed files
must not change)::

    python scripts/make_starter.py            # write relemb/data/starter/
    python scripts/make_starter.py --check    # exit 1 if the committed files differ
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from relemb.data.jsonl import dumps_jsonl
from relemb.data.records import AnalogyQuestion, Pair, RelationRecord

SEED = 20240501
PAIRS_PER_RELATION = 16
N_TRAIN, N_VALID, N_ANALOGY_VALID, N_ANALOGY_TEST = 8, 2, 2, 4
N_CHOICES = 4
STARTER_DIR = Path(__file__).resolve().parent.parent / "relemb" / "data" / "starter"


def _p(text: str) -> list[Pair]:
    """``"a:b c:d"`` -> ``[("a", "b"), ("c", "d")]``."""
    return [tuple(item.split(":")) for item in text.split()]  # type: ignore[misc]


#: relation type -> (symmetric?, pairs (head, tail)); the relation reads "head <relation> tail".
RELATIONS: dict[str, tuple[bool, list[Pair]]] = {
    "geography/capital-of": (
        False,
        _p(
            "paris:france rome:italy berlin:germany madrid:spain tokyo:japan athens:greece lisbon:portugal "
            "vienna:austria dublin:ireland oslo:norway stockholm:sweden cairo:egypt moscow:russia beijing:china "
            "ottawa:canada warsaw:poland"
        ),
    ),
    "geography/language-of": (
        False,
        _p(
            "french:france spanish:spain german:germany italian:italy japanese:japan greek:greece "
            "portuguese:portugal dutch:netherlands swedish:sweden polish:poland russian:russia turkish:turkey "
            "korean:korea finnish:finland danish:denmark hungarian:hungary"
        ),
    ),
    "animal/young-of": (
        False,
        _p(
            "puppy:dog kitten:cat calf:cow foal:horse lamb:sheep cub:bear chick:chicken duckling:duck "
            "piglet:pig tadpole:frog joey:kangaroo fawn:deer kid:goat gosling:goose cygnet:swan owlet:owl"
        ),
    ),
    "animal/makes-sound": (
        False,
        _p(
            "dog:bark cat:meow cow:moo lion:roar snake:hiss horse:neigh sheep:bleat pig:oink duck:quack "
            "owl:hoot bee:buzz wolf:howl frog:croak mouse:squeak donkey:bray bird:chirp"
        ),
    ),
    "animal/lives-in": (
        False,
        _p(
            "bee:hive bird:nest rabbit:burrow fox:den horse:stable pig:sty dog:kennel cow:barn bat:cave "
            "chicken:coop beaver:lodge lion:den mouse:hole wasp:nest spider:web ant:anthill"
        ),
    ),
    "part-whole/part-of": (
        False,
        _p(
            "wheel:car petal:flower page:book finger:hand toe:foot branch:tree key:keyboard roof:house "
            "blade:knife lens:camera wing:bird sleeve:shirt pedal:bicycle yolk:egg string:guitar handle:door"
        ),
    ),
    "part-whole/member-of": (
        False,
        _p(
            "sheep:flock wolf:pack fish:school bee:swarm cow:herd lion:pride player:team soldier:army "
            "sailor:crew singer:choir musician:orchestra student:class tree:forest star:galaxy "
            "island:archipelago juror:jury"
        ),
    ),
    "part-whole/made-of": (
        False,
        _p(
            "window:glass candle:wax tire:rubber sweater:wool coin:metal brick:clay sail:canvas jeans:denim "
            "shirt:cotton shoe:leather snowman:snow book:paper igloo:ice statue:marble nail:iron bottle:glass"
        ),
    ),
    "class-inclusion/hypernym": (
        False,
        _p(
            "rose:flower oak:tree hammer:tool apple:fruit carrot:vegetable shirt:clothing sparrow:bird "
            "salmon:fish chair:furniture piano:instrument car:vehicle red:color soccer:sport gold:metal "
            "cobra:snake ant:insect"
        ),
    ),
    "contrast/antonym": (
        True,
        _p(
            "hot:cold big:small happy:sad up:down fast:slow light:dark old:young rich:poor early:late "
            "open:closed hard:soft wet:dry full:empty strong:weak loud:quiet thick:thin"
        ),
    ),
    "similar/synonym": (
        True,
        _p(
            "big:large small:little fast:quick happy:glad begin:start end:finish smart:clever angry:mad "
            "rich:wealthy sick:ill shut:close sofa:couch gift:present center:middle quiet:silent easy:simple"
        ),
    ),
    "function/used-for": (
        False,
        _p(
            "knife:cut pen:write broom:sweep needle:sew shovel:dig soap:wash towel:dry ladder:climb phone:call "
            "eraser:erase microscope:magnify glue:stick map:navigate bed:sleep chair:sit cup:drink"
        ),
    ),
    "function/tool-of": (
        False,
        _p(
            "scalpel:surgeon brush:painter hammer:carpenter wrench:plumber stethoscope:doctor baton:conductor "
            "camera:photographer oven:baker plow:farmer whistle:referee net:fisherman anvil:blacksmith "
            "chisel:sculptor spade:gardener scissors:barber microphone:singer"
        ),
    ),
    "location/works-in": (
        False,
        _p(
            "teacher:school doctor:hospital chef:kitchen pilot:cockpit farmer:farm judge:court "
            "librarian:library actor:theater priest:church waiter:restaurant scientist:laboratory miner:mine "
            "banker:bank clerk:office mechanic:garage pharmacist:pharmacy"
        ),
    ),
    "cause-effect/causes": (
        False,
        _p(
            "fire:smoke virus:disease lightning:thunder friction:heat wind:waves drought:famine injury:pain "
            "joke:laughter rain:puddle sun:sunburn earthquake:tsunami flu:fever germ:infection onion:tears "
            "exercise:sweat poison:death"
        ),
    ),
    "cause-effect/produces": (
        False,
        _p(
            "bee:honey cow:milk chicken:egg sheep:wool baker:bread author:novel poet:poem composer:symphony "
            "silkworm:silk volcano:lava oyster:pearl brewer:beer potter:vase cook:meal vine:grape "
            "sculptor:statue"
        ),
    ),
    "gender/female-of": (
        False,
        _p(
            "king:queen man:woman boy:girl father:mother brother:sister son:daughter uncle:aunt husband:wife "
            "nephew:niece prince:princess actor:actress waiter:waitress lion:lioness rooster:hen bull:cow "
            "groom:bride"
        ),
    ),
    "attribute/color-of": (
        False,
        _p(
            "banana:yellow snow:white sky:blue coal:black blood:red grass:green lemon:yellow tomato:red "
            "milk:white carrot:orange pumpkin:orange cherry:red lime:green chocolate:brown ink:black "
            "sapphire:blue"
        ),
    ),
    "attribute/typical-quality": (
        False,
        _p(
            "ice:cold fire:hot feather:light rock:hard honey:sweet lemon:sour snail:slow cheetah:fast "
            "pillow:soft desert:dry razor:sharp coffee:bitter night:dark giant:tall elephant:big glass:fragile"
        ),
    ),
    "morphology/plural": (
        False,
        _p(
            "mouse:mice child:children foot:feet tooth:teeth man:men woman:women goose:geese person:people "
            "ox:oxen leaf:leaves knife:knives wolf:wolves city:cities box:boxes baby:babies shelf:shelves"
        ),
    ),
    "morphology/past-tense": (
        False,
        _p(
            "go:went eat:ate run:ran swim:swam write:wrote take:took give:gave sing:sang drink:drank fly:flew "
            "speak:spoke buy:bought think:thought teach:taught catch:caught sleep:slept"
        ),
    ),
    "morphology/comparative": (
        False,
        _p(
            "big:bigger good:better bad:worse small:smaller fast:faster tall:taller old:older happy:happier "
            "strong:stronger cold:colder young:younger easy:easier long:longer short:shorter warm:warmer "
            "heavy:heavier"
        ),
    ),
    "time/followed-by": (
        False,
        _p(
            "monday:tuesday wednesday:thursday friday:saturday sunday:monday january:february march:april "
            "july:august september:october october:november spring:summer summer:autumn autumn:winter "
            "breakfast:lunch lunch:dinner morning:afternoon afternoon:evening"
        ),
    ),
    "measure/unit-of": (
        False,
        _p(
            "meter:length kilogram:mass second:time liter:volume degree:temperature mile:distance "
            "pound:weight inch:length gallon:volume calorie:energy watt:power acre:area decibel:loudness "
            "knot:speed hour:time ounce:weight"
        ),
    ),
}

LICENSE_TEXT = """\
relemb starter relation set
===========================

The files in this folder (train.jsonl, valid.jsonl, analogy_valid.jsonl, analogy_test.jsonl) were
written by the relemb developers: the relations and word pairs are our own choice of common English
words, generated by scripts/make_starter.py. They are part of relemb and licensed, like the rest
of the project, under the Apache License, Version 2.0 (https://www.apache.org/licenses/LICENSE-2.0).

This is a small demonstration set for the quick start and the tests. It is not a benchmark: do not
report results on it as such.
"""


def _parent(relation_type: str) -> str:
    return relation_type.split("/", 1)[0]


def _check_table() -> None:
    seen: dict[Pair, str] = {}
    for relation, (_, pairs) in RELATIONS.items():
        if len(pairs) != PAIRS_PER_RELATION:
            raise ValueError(f"{relation}: {len(pairs)} pairs, expected {PAIRS_PER_RELATION}")
        for pair in pairs:
            if len(pair) != 2 or not all(w.isalpha() and w.islower() for w in pair):
                raise ValueError(f"{relation}: bad pair {pair!r}")
            if pair in seen:
                raise ValueError(f"pair {pair} is in both {seen[pair]} and {relation}")
            seen[pair] = relation


def build_starter() -> dict[str, str]:
    """File name -> content of every starter file (deterministic)."""
    _check_table()
    rng = random.Random(SEED)
    all_positive = {pair for _, pairs in RELATIONS.values() for pair in pairs}
    splits: dict[str, dict[str, list[Pair]]] = {}
    for relation, (_, pairs) in RELATIONS.items():
        shuffled = list(pairs)
        rng.shuffle(shuffled)
        cut = [N_TRAIN, N_TRAIN + N_VALID, N_TRAIN + N_VALID + N_ANALOGY_VALID]
        splits[relation] = {
            "train": shuffled[: cut[0]],
            "valid": shuffled[cut[0] : cut[1]],
            "analogy_valid": shuffled[cut[1] : cut[2]],
            "analogy_test": shuffled[cut[2] :],
        }

    def others(relation: str, split: str, k: int) -> list[Pair]:
        """``k`` pairs of ``split``, each from a different relation of another parent class."""
        candidates = [r for r in RELATIONS if _parent(r) != _parent(relation)]
        return [rng.choice(splits[r][split]) for r in rng.sample(candidates, k)]

    def negatives(relation: str, split: str, positives: list[Pair], n_reversed: int, n_total: int) -> list[Pair]:
        symmetric = RELATIONS[relation][0]
        own = [] if symmetric else [(t, h) for h, t in positives[:n_reversed]]
        negs = own + others(relation, split, n_total - len(own))
        for pair in own:
            if pair in all_positive:
                raise ValueError(f"reversed pair {pair} of {relation} is a positive of some relation")
        return negs

    train = [
        RelationRecord(r, tuple(s["train"]), tuple(negatives(r, "train", s["train"], N_TRAIN // 2, N_TRAIN)))
        for r, s in splits.items()
    ]
    # validation negatives: [reversed positives[1] (asymmetric relations), a pair of another relation]
    valid = [
        RelationRecord(r, tuple(s["valid"]), tuple(negatives(r, "valid", s["valid"][1:], 1, N_VALID)))
        for r, s in splits.items()
    ]

    def question(relation: str, split: str, stem: Pair, answer: Pair) -> AnalogyQuestion:
        choice = others(relation, split, N_CHOICES - 1)
        position = rng.randrange(N_CHOICES)
        choice.insert(position, answer)
        return AnalogyQuestion(stem=stem, choice=tuple(choice), answer=position, prefix=relation)

    analogy_valid = [
        question(r, "analogy_valid", s["analogy_valid"][0], s["analogy_valid"][1]) for r, s in splits.items()
    ]
    analogy_test = []
    for relation, s in splits.items():
        held = s["analogy_test"]
        for i, stem in enumerate(held):
            analogy_test.append(question(relation, "analogy_test", stem, held[(i + 1) % len(held)]))
    return {
        "train.jsonl": dumps_jsonl(train),
        "valid.jsonl": dumps_jsonl(valid),
        "analogy_valid.jsonl": dumps_jsonl(analogy_valid),
        "analogy_test.jsonl": dumps_jsonl(analogy_test),
        "LICENSE": LICENSE_TEXT,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=STARTER_DIR)
    parser.add_argument("--check", action="store_true", help="only compare with the files on disk")
    args = parser.parse_args(argv)
    files = build_starter()
    if args.check:
        stale = [
            name
            for name, content in files.items()
            if not (args.output_dir / name).is_file() or (args.output_dir / name).read_text(encoding="utf-8") != content
        ]
        for name in stale:
            print(f"stale: {args.output_dir / name}", file=sys.stderr)
        return 1 if stale else 0
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (args.output_dir / name).write_text(content, encoding="utf-8", newline="\n")
    print(f"wrote {len(files)} files to {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
