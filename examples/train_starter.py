"""Fine-tune the embedded MiniLM on the bundled starter set from Python, then use the model.

python examples/train_starter.py          # about 2 minutes on a laptop CPU
"""

from relemb import RelBERT
from relemb.train_config import DataArguments, LossArguments, ModelArguments, RelationTrainingArguments
from relemb.training import train

result = train(
    ModelArguments(base_model="minilm", template="d", pooling="average_no_mask"),
    DataArguments(data="starter", test_datasets=["starter"]),
    LossArguments(loss="nce", temperature=0.05),
    RelationTrainingArguments(output_dir="runs/starter-minilm", num_train_epochs=3, learning_rate=1e-4),
)
print("starter analogy accuracy (test):", result.results["test"]["starter"])

model = RelBERT.from_pretrained("runs/starter-minilm")
print(model.get_embedding(("camera", "photographer")).shape)
