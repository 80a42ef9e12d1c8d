package githubtest

import (
	"github.com/getkin/kin-openapi/openapi3"
)

// obj is a JSON object under construction.
type obj = map[string]any

// fixedTime fills required date-time fields the fake has no value for.
const fixedTime = "2024-01-01T00:00:00Z"

// maxShapeDepth bounds skeleton generation for self-referencing schemas.
const maxShapeDepth = 12

// shape returns v completed to the given schema: every required property
// the fake did not set is filled with a neutral value of the right type
// (empty string, zero, false, empty list, null where allowed), recursively,
// so that answers carry every field GitHub documents as always present.
// Values the fake did set are kept as they are.
func shape(schema *openapi3.Schema, v any) any {
	return shapeDepth(schema, v, 0)
}

func shapeDepth(schema *openapi3.Schema, v any, depth int) any {
	if schema == nil || depth > maxShapeDepth {
		return v
	}
	switch val := v.(type) {
	case obj:
		out := obj{}
		if sk, ok := skeletonOf(objectAlternative(schema), depth, false).(obj); ok {
			out = sk
		}
		for k, pv := range val {
			out[k] = shapeDepth(propertySchema(schema, k), pv, depth+1)
		}
		return out
	case []obj:
		items := make([]any, len(val))
		for i, item := range val {
			items[i] = item
		}
		return shapeDepth(schema, items, depth)
	case []any:
		itemSchema := arrayItems(schema)
		out := make([]any, len(val))
		for i, item := range val {
			out[i] = shapeDepth(itemSchema, item, depth+1)
		}
		return out
	default:
		return v
	}
}

// skeleton builds the neutral value for a schema: null where allowed.
func skeleton(schema *openapi3.Schema, depth int) any {
	return skeletonOf(schema, depth, true)
}

// skeletonOf builds the neutral value for a schema; with allowNull false it
// builds the non-null form of a nullable schema.
func skeletonOf(schema *openapi3.Schema, depth int, allowNull bool) any {
	if schema == nil || depth > maxShapeDepth {
		return nil
	}
	if allowNull && (schema.Nullable || (schema.Type != nil && schema.Type.IncludesNull())) {
		return nil
	}
	if len(schema.AllOf) > 0 {
		out := obj{}
		for _, part := range schema.AllOf {
			if m, ok := skeletonOf(part.Value, depth+1, allowNull).(obj); ok {
				for k, v := range m {
					out[k] = v
				}
			}
		}
		return out
	}
	if alts := alternatives(schema); len(alts) > 0 {
		return skeletonOf(alts[0], depth+1, allowNull)
	}
	if len(schema.Enum) > 0 {
		return schema.Enum[0]
	}
	switch {
	case isType(schema, "object") || (schema.Type == nil && len(schema.Properties) > 0):
		out := obj{}
		for _, name := range schema.Required {
			if p := schema.Properties[name]; p != nil {
				out[name] = skeleton(p.Value, depth+1)
			} else {
				out[name] = nil
			}
		}
		return out
	case isType(schema, "array"):
		return []any{}
	case isType(schema, "string"):
		switch schema.Format {
		case "date-time":
			return fixedTime
		case "date":
			return fixedTime[:10]
		case "email":
			return "noreply@example.invalid"
		case "uri", "url":
			return "https://example.invalid/"
		}
		return ""
	case isType(schema, "integer"), isType(schema, "number"):
		if schema.Min != nil {
			return *schema.Min
		}
		return 0
	case isType(schema, "boolean"):
		return false
	}
	return nil
}

func isType(schema *openapi3.Schema, t string) bool {
	return schema.Type != nil && schema.Type.Is(t)
}

// alternatives returns the non-null oneOf/anyOf branches.
func alternatives(schema *openapi3.Schema) []*openapi3.Schema {
	var out []*openapi3.Schema
	for _, refs := range []openapi3.SchemaRefs{schema.OneOf, schema.AnyOf} {
		for _, r := range refs {
			if r.Value == nil || (r.Value.Type != nil && r.Value.Type.Is("null")) {
				continue
			}
			out = append(out, r.Value)
		}
	}
	return out
}

// objectAlternative picks the branch of a oneOf/anyOf that describes an
// object, or the schema itself.
func objectAlternative(schema *openapi3.Schema) *openapi3.Schema {
	for _, alt := range alternatives(schema) {
		if isType(alt, "object") || len(alt.Properties) > 0 || len(alt.AllOf) > 0 {
			return alt
		}
	}
	return schema
}

// propertySchema finds the schema of an object property, looking through
// allOf, oneOf and anyOf.
func propertySchema(schema *openapi3.Schema, name string) *openapi3.Schema {
	if schema == nil {
		return nil
	}
	if p := schema.Properties[name]; p != nil {
		return p.Value
	}
	for _, part := range schema.AllOf {
		if p := propertySchema(part.Value, name); p != nil {
			return p
		}
	}
	for _, alt := range alternatives(schema) {
		if p := propertySchema(alt, name); p != nil {
			return p
		}
	}
	return nil
}

// arrayItems returns the item schema of an array schema.
func arrayItems(schema *openapi3.Schema) *openapi3.Schema {
	if schema == nil {
		return nil
	}
	if schema.Items != nil {
		return schema.Items.Value
	}
	for _, alt := range alternatives(schema) {
		if alt.Items != nil {
			return alt.Items.Value
		}
	}
	return nil
}
