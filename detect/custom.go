package detect

type customRule struct{}

func (c *check) recordCustom()                 {}
func (c *check) customRules(sub *subjectState) {}

type CustomRule struct{}
